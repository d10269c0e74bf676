"""Gallery cards show one detector's heat map at a time, never two maps stacked on one face."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from dfdesk.gui.presenters import GalleryItem
from dfdesk.gui.views.gallery import GalleryView


def solid_png(path: Path, rgb: tuple[int, int, int]) -> str:
    Image.fromarray(np.full((32, 32, 3), rgb, np.uint8)).save(path)
    return str(path)


def test_each_card_shows_only_the_chosen_detectors_heat_map(qtbot, tmp_path: Path):
    maps = {"red_net": solid_png(tmp_path / "r.png", (255, 0, 0)),
            "blue_net": solid_png(tmp_path / "b.png", (0, 0, 255))}
    item = GalleryItem(5, 0.2, 0.9, 0, (0, 0, 10, 10), maps)
    gallery = GalleryView()
    qtbot.addWidget(gallery)
    gallery.resize(500, 260)
    gallery.show()
    gallery.show_items([item], ["blue_net", "red_net", "fused"], {(0, 5): {"red_net": 0.9, "blue_net": 0.3}})
    gallery.set_face(0, 5, np.full((40, 40, 3), 128, np.uint8), 1000, "checked")
    gallery.opacity.setValue(100)
    card = gallery.cards[0]

    def middle():
        image = card.image.pixmap().toImage()
        return image.pixelColor(image.width() // 2, image.height() // 2).getRgb()[:3]

    assert gallery.scorer.currentText() == "red_net"  # of the maps on the first card, the highest score there
    assert middle() == (255, 0, 0) and card.full_caption.endswith("red_net 90%")
    gallery.choose_scorer("blue_net")
    assert middle() == (0, 0, 255) and card.full_caption.endswith("blue_net 30%")  # blue alone, no red beneath
    gallery.choose_scorer("fused")
    assert middle() == (128, 128, 128) and card.full_caption.endswith("fused not scored here")


def test_the_first_card_opens_with_the_detector_that_ranks_it_first(qtbot, tmp_path: Path):
    """Not a detector that scored the most suspicious face 0 % only because its name sorts first."""
    first = GalleryItem(5, 0.2, 0.99, 0, (0, 0, 10, 10), {"a_net": solid_png(tmp_path / "a.png", (255, 0, 0)),
                                                          "z_net": solid_png(tmp_path / "z.png", (0, 0, 255))})
    second = GalleryItem(9, 0.4, 0.5, 0, (0, 0, 10, 10), {"a_net": solid_png(tmp_path / "a2.png", (255, 0, 0))})
    gallery = GalleryView()
    qtbot.addWidget(gallery)
    gallery.show_items([first, second], ["a_net", "z_net", "fused"],
                       {(0, 5): {"a_net": 0.0, "z_net": 0.99}, (0, 9): {"a_net": 0.5}})
    assert gallery.scorer.currentText() == "z_net"
    assert gallery.cards[0].full_caption.endswith("z_net 99%")
    gallery.show_items([second], ["a_net", "z_net", "fused"], {(0, 9): {"a_net": 0.5}})
    assert gallery.scorer.currentText() == "a_net"  # the only map there


def test_a_long_detector_name_is_shortened_to_the_card_never_cut(qtbot, tmp_path: Path):
    name = "mesoinception4_df_with_a_very_long_name"
    item = GalleryItem(257, 10.28, 0.97, 0, (0, 0, 10, 10), {name: solid_png(tmp_path / "m.png", (255, 0, 0))})
    gallery = GalleryView()
    qtbot.addWidget(gallery)
    gallery.resize(300, 200)
    gallery.show()
    gallery.show_items([item], [name], {(0, 257): {name: 0.97}})
    card = gallery.cards[0]
    qtbot.waitUntil(lambda: "…" in card.caption.text())
    metrics = card.caption.fontMetrics()
    lines = card.caption.text().split("\n")
    assert all(metrics.horizontalAdvance(line) <= card.contentsRect().width() for line in lines)
    assert lines[0] in ("#257 · 10.28 s", "#257")  # the frame number survives a card too narrow for "frame 257 · …"
    assert card.full_caption == f"frame 257 · 10.28 s\n{name} 97%"
