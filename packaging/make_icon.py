"""Draws dfdesk's application icon (resources/icons/dfdesk.png, .ico, .icns): a face outline under a magnifier on
a dark rounded square, half of the face drawn as a wire mesh (a synthetic face under examination). Our own artwork,
made with Pillow; run it again after changing the drawing: python packaging/make_icon.py"""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "resources" / "icons"
S = 1024  # drawn large, scaled down with antialiasing


def draw() -> Image.Image:
    img = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((32, 32, S - 32, S - 32), radius=200, fill=(24, 38, 56, 255))
    # face: an ellipse, left half solid, right half a mesh
    face = (250, 180, 650, 700)
    d.ellipse(face, outline=(230, 236, 242, 255), width=28)
    d.pieslice(face, 90, 270, fill=(230, 236, 242, 255))
    cx = (face[0] + face[2]) // 2
    mesh = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    m = ImageDraw.Draw(mesh)
    for y in range(face[1], face[3], 64):  # the mesh, clipped to the face
        m.line((cx, y, face[2], y), fill=(86, 196, 220, 255), width=10)
    for x in range(cx, face[2], 64):
        m.line((x, face[1], x, face[3]), fill=(86, 196, 220, 255), width=10)
    clip = Image.new("L", (S, S), 0)
    ImageDraw.Draw(clip).ellipse(face, fill=255)
    img.paste(mesh, (0, 0), Image.composite(mesh.getchannel("A"), clip, clip).point(lambda v: v))
    d = ImageDraw.Draw(img)
    d.ellipse(face, outline=(230, 236, 242, 255), width=28)
    d.ellipse((340, 360, 390, 410), fill=(24, 38, 56, 255))  # left eye cut out of the solid half
    # magnifier over the lower right
    d.ellipse((520, 500, 860, 840), outline=(245, 166, 35, 255), width=48)
    d.line((820, 800, 940, 920), fill=(245, 166, 35, 255), width=80)
    return img


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    big = draw()
    icon = big.resize((256, 256), Image.LANCZOS)
    icon.save(OUT / "dfdesk.png")
    icon.save(OUT / "dfdesk.ico", sizes=[(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)])
    big.resize((512, 512), Image.LANCZOS).save(OUT / "dfdesk.icns")


if __name__ == "__main__":
    main()
