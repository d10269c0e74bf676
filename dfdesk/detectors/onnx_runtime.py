"""Model cards whose weights are an ONNX graph, run in onnxruntime behind the detector contract.

:func:`load_onnx_detector` checks the file's SHA-256 against the card (as for safetensors), opens an
onnxruntime session on exactly the bytes it hashed (CUDAExecutionProvider when the device is CUDA and
onnxruntime has it, else the CPU provider), and refuses with :class:`WeightsError` a graph whose inputs or
outputs do not fit the card.  The returned :class:`OnnxCardDetector` is an ``nn.Module`` whose forward
returns :class:`DetectorOutput` like any PyTorch detector: ``clip_logits``, plus ``frame_logits`` and
``temporal_weights`` when the graph has them.  It has no spatial maps and no parameters, so Grad-CAM
cannot run on it (the analysis finds no ``nn.Conv2d`` and skips the heat map).

An ONNX file is untrusted input: :func:`check_onnx_bytes` refuses a file over :data:`MAX_ONNX_BYTES`, external
data (which would make onnxruntime read files outside the model's folder) and any constant tensor, or
constant-shaped ``ConstantOfShape``, over :data:`MAX_TENSOR_BYTES`; :func:`probe` runs the graph once on a
small input of the card's shape (cancelled after :data:`PROBE_SECONDS`) and refuses a run that fails or
returns non-finite logits.  Import runs both; every load runs the probe, so a graph that only breaks when
run fails its own detector at load, not the analysis.

The graph contract is the one :func:`dfdesk.detectors.onnx_export.export_onnx` writes: one input
``clip`` (B, T, C, H, W) float, or (B, T, 136) for a card whose crops are landmarks (LRNet: 68 points, x and y
interleaved), outputs named ``clip_logits`` (B, K) and optionally ``frame_logits`` (B, T, K) and
``temporal_weights`` (B, T); other outputs are ignored.
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

import numpy as np
import torch

from dfdesk.detectors.base import LANDMARK_FEATURES, Detector, DetectorOutput, clip_shape
from dfdesk.detectors.cards import CardError, ModelCard
from dfdesk.detectors.onnx_export import OUTPUTS, providers
from dfdesk.detectors.weights import WeightsError, verified_weights_path

INPUT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}
OUTPUT_RANKS = {"clip_logits": 2, "frame_logits": 3, "temporal_weights": 2}
MAX_ONNX_BYTES = 1 << 30  # 1 GiB: several times the largest detector shipped or trained here
MAX_TENSOR_BYTES = 1 << 28  # 256 MiB for any one constant tensor, stored or made by ConstantOfShape
PROBE_SECONDS = 60.0
PROBE_SEED = 20260


@dataclass(frozen=True)
class GraphLayout:
    """What the checks found: the input's name and dtype, the outputs used, a fixed batch of 1 or not."""

    input_name: str
    input_dtype: type
    outputs: tuple[str, ...]
    batch_of_one: bool


class OnnxCardDetector(Detector):
    """An installed ONNX model: ``forward(clip) -> DetectorOutput`` through an onnxruntime session."""

    def __init__(self, card: ModelCard, session, layout: GraphLayout, frame_level: bool, output_kind: str) -> None:
        super().__init__()
        self.card = card
        self.trained = card.trained
        self.session = session
        self.layout = layout
        self.frame_level = frame_level  # shadows the class attribute: the card's architecture decides
        self.output_kind = output_kind

    @property
    def provider(self) -> str:
        """The execution provider onnxruntime actually uses first."""
        return self.session.get_providers()[0]

    def forward(self, clip: torch.Tensor) -> DetectorOutput:
        array = clip.detach().to("cpu", torch.float32).contiguous().numpy().astype(self.layout.input_dtype, copy=False)
        if self.layout.batch_of_one:
            runs = [self._run(array[i : i + 1]) for i in range(array.shape[0])]
            values = [np.concatenate([r[k] for r in runs]) for k in range(len(self.layout.outputs))]
        else:
            values = self._run(array)
        out = {name: torch.from_numpy(np.asarray(v, dtype=np.float32)).to(clip.device)
               for name, v in zip(self.layout.outputs, values)}
        return DetectorOutput(clip_logits=out["clip_logits"], frame_logits=out.get("frame_logits"),
                              temporal_weights=out.get("temporal_weights"))

    def _run(self, array: np.ndarray) -> list[np.ndarray]:
        return self.session.run(list(self.layout.outputs), {self.layout.input_name: array})


def load_onnx_detector(card: ModelCard, device: str | torch.device = "cpu") -> OnnxCardDetector:
    """The card's ONNX graph, SHA-256 checked and fitted to the card; CUDA provider when ``device`` is CUDA."""
    from dfdesk.detectors.registry import detector_class

    try:
        cls = detector_class(card.architecture)
    except KeyError as exc:
        raise CardError(f"model {card.name!r}: {exc.args[0]}") from None
    data = _verified_bytes(card)
    session = open_session(data, card, prefer_cuda=torch.device(device).type == "cuda")
    layout = check_graph(card, session, cls.frame_level)
    probe(card, session, layout)
    return OnnxCardDetector(card, session, layout, cls.frame_level, card.output_kind).eval()


def _verified_bytes(card: ModelCard) -> bytes:
    """The file's bytes, hashed again after reading: the session runs exactly what was checked."""
    path = verified_weights_path(card)
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != card.weights_sha256.lower():
        raise WeightsError(f"model {card.name!r}: {path.name} changed while it was being read")
    return data


def open_session(model: bytes | str, card: ModelCard, prefer_cuda: bool = False):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(model, sess_options=options, providers=providers(prefer_cuda))
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own pybind exception types
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"model {card.name!r}: {card.weights_file} is not a loadable ONNX graph ({first})") from None


def check_graph(card: ModelCard, session, frame_level: bool) -> GraphLayout:
    """Raise :class:`WeightsError` naming the first way the graph's inputs or outputs do not fit ``card``."""
    label = f"model {card.name!r}: the ONNX graph"
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise WeightsError(f"{label} has {len(inputs)} inputs ({', '.join(i.name for i in inputs)}); "
                           "a detector takes one clip tensor (B, T, C, H, W)")
    clip = inputs[0]
    if clip.type not in INPUT_TYPES:
        raise WeightsError(f"{label} takes {clip.type}; expected float32 or float16")
    shape = list(clip.shape)
    fixed = [d if isinstance(d, int) and d > 0 else None for d in shape]  # None: a dynamic axis
    if card.input.crop == "landmarks":
        _check_landmark_axes(card, label, clip.name, shape, fixed)
    else:
        _check_image_axes(card, label, clip.name, shape, fixed)
    batch, frames = fixed[0], fixed[1]
    spec = card.input
    if frame_level and frames is not None:
        raise WeightsError(f"{label} fixes T = {frames}; a frame-level model needs a dynamic frame axis "
                           "(re-export it with `dfdesk models export-onnx`)")
    if not frame_level and frames is not None and frames != spec.frames_per_clip:
        raise WeightsError(f"{label} fixes T = {frames}; the card says frames_per_clip = {spec.frames_per_clip}")
    if batch is not None and batch != 1:
        raise WeightsError(f"{label} fixes the batch at {batch}; expected a dynamic batch axis (or 1)")
    outputs = _check_outputs(card, session, label, frame_level)
    return GraphLayout(clip.name, INPUT_TYPES[clip.type], outputs, batch == 1)


def _check_image_axes(card: ModelCard, label: str, name: str, shape: list, fixed: list) -> None:
    """An image card's input is (B, T, C, H, W) with its channels and crop size where the graph fixes them."""
    spec = card.input
    if len(shape) != 5:
        raise WeightsError(f"{label} input {name!r} has rank {len(shape)} {shape}; expected (B, T, C, H, W)")
    wanted = {"C": (fixed[2], len(spec.mean)), "H": (fixed[3], spec.size), "W": (fixed[4], spec.size)}
    for axis, (got, expected) in wanted.items():
        if got is not None and got != expected:
            raise WeightsError(f"{label} input {name!r} {shape} has {axis} = {got}; the card says {expected} "
                               f"({spec.colour} crops of {spec.size} px)")


def _check_landmark_axes(card: ModelCard, label: str, name: str, shape: list, fixed: list) -> None:
    """A landmark card's input is (B, T, 136): 68 points a frame, x and y interleaved."""
    if len(shape) != 3:
        raise WeightsError(f"{label} input {name!r} has rank {len(shape)} {shape}; the card's crops are landmarks, "
                           f"expected (B, T, {LANDMARK_FEATURES})")
    if fixed[2] is not None and fixed[2] != LANDMARK_FEATURES:
        raise WeightsError(f"{label} input {name!r} {shape} has {fixed[2]} features a frame; the card's crops are "
                           f"68 landmarks ({LANDMARK_FEATURES} coordinates)")


def _check_outputs(card: ModelCard, session, label: str, frame_level: bool) -> tuple[str, ...]:
    found = {o.name: o for o in session.get_outputs()}
    if "clip_logits" not in found:
        raise WeightsError(f"{label} has no output 'clip_logits' (outputs: {', '.join(found) or 'none'}; "
                           f"expected {', '.join(OUTPUTS)})")
    if frame_level and "frame_logits" not in found:
        raise WeightsError(f"{label} has no output 'frame_logits', which a frame-level model must return")
    k = 1 if card.output_kind == "sigmoid" else None
    used = tuple(name for name in OUTPUTS if name in found)
    for name in used:
        shape = list(found[name].shape)
        if len(shape) != OUTPUT_RANKS[name]:
            raise WeightsError(f"{label} output {name!r} has rank {len(shape)} {shape}; "
                               f"expected {OUTPUT_RANKS[name]}")
        if name == "temporal_weights" or not isinstance(shape[-1], int):
            continue
        if k is not None and shape[-1] != k:
            raise WeightsError(f"{label} output {name!r} has {shape[-1]} logits; a sigmoid card expects 1")
        if k is None and not (2 <= shape[-1] and card.fake_index < shape[-1]):
            raise WeightsError(f"{label} output {name!r} has {shape[-1]} logits; a softmax card with "
                               f"fake_index {card.fake_index} expects at least {max(2, card.fake_index + 1)}")
    return used


# --- untrusted graphs: static limits and a probe run ---------------------------------------------------

def check_onnx_bytes(data: bytes, label: str) -> None:
    """Refuse an ONNX file that is too large, reads external data, or holds or makes an enormous constant."""
    import onnx

    if len(data) > MAX_ONNX_BYTES:
        raise WeightsError(f"{label}: {len(data):,} bytes is over the {MAX_ONNX_BYTES:,}-byte limit for a model")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception as exc:  # noqa: BLE001 - protobuf raises its own DecodeError
        raise WeightsError(f"{label}: not an ONNX file ({exc})") from None
    _check_graph_constants(model.graph, label)


def _check_graph_constants(graph, label: str) -> None:
    from onnx import AttributeProto

    constants = {t.name: t for t in graph.initializer}
    for tensor in graph.initializer:
        _check_tensor(tensor, label)
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == AttributeProto.TENSOR:
                _check_tensor(attribute.t, label)
                if node.op_type == "Constant":
                    constants.update({name: attribute.t for name in node.output})
            elif attribute.type == AttributeProto.GRAPH:
                _check_graph_constants(attribute.g, label)
            elif attribute.type == AttributeProto.GRAPHS:
                for body in attribute.graphs:
                    _check_graph_constants(body, label)
        if node.op_type == "ConstantOfShape" and node.input and node.input[0] in constants:
            _check_constant_of_shape(node, constants[node.input[0]], label)


def _check_tensor(tensor, label: str) -> None:
    from onnx import TensorProto

    if tensor.data_location == TensorProto.EXTERNAL or tensor.external_data:
        raise WeightsError(f"{label}: tensor {tensor.name!r} refers to external data; only self-contained "
                           "ONNX files are installed")
    size = _tensor_bytes(tensor.dims, tensor.data_type)
    if size > MAX_TENSOR_BYTES:
        raise WeightsError(f"{label}: constant {tensor.name!r} declares {size:,} bytes (limit {MAX_TENSOR_BYTES:,})")


def _check_constant_of_shape(node, shape_tensor, label: str) -> None:
    from onnx import TensorProto, numpy_helper

    shape = numpy_helper.to_array(shape_tensor).astype(np.float64).ravel()
    value = next((a.t for a in node.attribute if a.name == "value"), None)
    size = _tensor_bytes(shape, value.data_type if value is not None else TensorProto.FLOAT)
    if size > MAX_TENSOR_BYTES:
        raise WeightsError(f"{label}: a ConstantOfShape node makes a {size:,.0f}-byte tensor "
                           f"(limit {MAX_TENSOR_BYTES:,})")


def _tensor_bytes(dims, data_type: int) -> float:
    from onnx import helper

    try:
        itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(data_type)).itemsize
    except (KeyError, TypeError, ValueError):
        itemsize = 8
    return float(np.prod([max(float(d), 0.0) for d in dims], dtype=np.float64)) * itemsize


def probe(card: ModelCard, session, layout: GraphLayout) -> None:
    """Run the graph once on a one-clip input of the card's shape; refuse a failing, stuck or non-finite run."""
    import onnxruntime as ort

    rng = np.random.default_rng(PROBE_SEED)
    clip = rng.uniform(-1.0, 1.0, size=(1, *clip_shape(card.input))).astype(layout.input_dtype)
    options = ort.RunOptions()
    timer = threading.Timer(PROBE_SECONDS, lambda: setattr(options, "terminate", True))
    timer.start()
    try:
        values = session.run(list(layout.outputs), {layout.input_name: clip}, options)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own pybind exception types
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"model {card.name!r}: the ONNX graph fails on a probe input ({first})") from None
    finally:
        timer.cancel()
    logits = np.asarray(values[layout.outputs.index("clip_logits")], dtype=np.float64)
    if logits.shape[0] != 1 or not np.all(np.isfinite(logits)):
        raise WeightsError(f"model {card.name!r}: the ONNX graph returns {logits.shape} logits with non-finite "
                           "values on a probe input")
