"""The Predictor: the shipped ONNX model behind MNIST-style preprocessing.

    p = Predictor.load()          # once per model folder, then cached
    pred = p.predict(image)       # PIL image, uint8 array or image bytes -> Prediction

ONNX Runtime runs the network (`Network`); torch is never imported here. A Predictor holds
nothing that changes after loading, and ONNX Runtime's `InferenceSession.run` is safe to call
from many threads at once, so one Predictor serves every thread of the web page and the API.
How long preprocessing and the network take, whoever watches can observe (`timings`).
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Final

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from digit_knower.reader import cuts, preprocess, second_look, segment, timings, verdict
from digit_knower.reader.picture import EmptyImageError, InvalidImageError
from digit_knower.reader.verdict import VERDICTS, Reading, Thresholds, Verdict

__all__ = [
    "VERDICTS",
    "EmptyImageError",
    "InvalidImageError",
    "ModelNotFoundError",
    "Network",
    "Prediction",
    "Predictor",
    "Verdict",
]

# A model folder's files.
MODEL_FILE: Final = "digit_cnn.onnx"
CARD_FILE: Final = "model_card.json"
WEIGHTS_FILE: Final = "digit_cnn.pt"  # the torch weights, for fine-tuning (serving never reads them)
INPUT_NAME: Final = "image"
OUTPUT_NAME: Final = "logits"
# The model runs on batches of at most this many, so its working memory stays bounded
# however many pictures predict_batch is given.
BATCH_CHUNK: Final = 512


class ModelNotFoundError(FileNotFoundError):
    """The model folder lacks the ONNX file or its model card, or they cannot be read."""


@dataclass(frozen=True, eq=False)
class Prediction:
    """What the model read, how sure it is, and the 28x28 picture it actually saw.

    `verdict` says what the picture holds: one digit read with confidence ("digit"), probably one
    digit but the model is not sure ("unsure"; `digit` is its best guess), no digit at all
    ("not_a_digit") or several digits side by side ("several_digits"). `digits` lists the digits
    read, left to right: `(digit,)` for one digit, every digit for several (`digit` is the first),
    `()` for not a digit.
    """

    digit: int
    confidence: float
    probabilities: tuple[float, ...]
    model_input: NDArray[np.uint8]
    model_version: str
    verdict: Verdict = "digit"
    digits: tuple[int, ...] = ()
    # The probability that the picture (for several digits: the first) is no digit at all.
    not_a_digit_probability: float = 0.0
    # For several digits, each digit as read on its own, left to right (`digit`, `confidence`,
    # `probabilities` and `model_input` are the first one's); () otherwise.
    parts: tuple[Prediction, ...] = ()


class Network:
    """The ONNX model alone: (N, 28, 28) uint8 inputs in, logits (N, classes) out, as the network
    gives them (its first look: no second look, no verdict). Thread-safe.

    The Predictor reads through one; so do the tools that score many 28x28 inputs at once
    (`digit-knower evaluate`, training's check of its ONNX export, retraining's scores).
    """

    def __init__(self, session: ort.InferenceSession) -> None:
        self._session = session

    @classmethod
    def open(cls, path: Path, threads: int = 1) -> Network:
        """The network in the ONNX file at `path`; ModelNotFoundError when there is none, it is no
        ONNX model, or it lacks the agreed input and output. `threads`: ONNX Runtime's threads for
        one run (see `_session_options`); 0 lets it take one per core."""
        return cls(_open_session(path, threads))

    def run(self, model_inputs: NDArray[np.uint8]) -> NDArray[np.float32]:
        """The logits of these inputs, in one ONNX Runtime run (timed as the "model" stage)."""
        tensor = model_inputs[:, np.newaxis].astype(np.float32) / 255
        with timings.timed("model"):
            (logits,) = self._session.run([OUTPUT_NAME], {INPUT_NAME: tensor})
        return logits

    def logits(self, model_inputs: NDArray[np.uint8]) -> NDArray[np.float32]:
        """The logits of any number of inputs, in runs of at most BATCH_CHUNK."""
        starts = range(0, len(model_inputs), BATCH_CHUNK)
        if not starts:
            return self.run(model_inputs)
        return np.concatenate([self.run(model_inputs[start : start + BATCH_CHUNK]) for start in starts])


class Predictor:
    """The network plus its model card. Immutable once built; thread-safe."""

    _cache: ClassVar[dict[Path, Predictor]] = {}  # one Predictor per model folder, process-wide
    _cache_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, network: Network, card: dict[str, Any]) -> None:
        self._network = network
        self._card = card
        self._version = str(card["version"])
        self._thresholds = Thresholds.from_card(card)

    @classmethod
    def load(cls, model_dir: str | Path | None = None) -> Predictor:
        """The Predictor for `model_dir` (default: settings.model_dir), loaded once per folder."""
        if model_dir is None:
            from digit_knower.settings import get_settings

            model_dir = get_settings().model_dir
        key = Path(model_dir).expanduser().resolve()
        with cls._cache_lock:
            if key not in cls._cache:
                cls._cache[key] = cls.from_dir(key)
            return cls._cache[key]

    @classmethod
    def from_dir(cls, model_dir: Path, threads: int = 1) -> Predictor:
        """A fresh Predictor from a model folder, bypassing the cache. `threads` > 1 is for scoring
        large batches on a machine of one's own (training's test-side figures); servers keep 1."""
        return cls(Network.open(model_dir / MODEL_FILE, threads), _read_card(model_dir / CARD_FILE))

    @property
    def card(self) -> dict[str, Any]:
        """The model card (a copy: callers may change it without touching the Predictor)."""
        return copy.deepcopy(self._card)

    @property
    def model_version(self) -> str:
        return self._version

    @property
    def network(self) -> Network:
        """The ONNX model alone, for logits with no second look and no verdict."""
        return self._network

    @property
    def thresholds(self) -> Thresholds:
        return self._thresholds

    def predict(self, image: object) -> Prediction:
        """Read the digit(s) in one picture: PIL image, uint8 array (H,W)/(H,W,3)/(H,W,4), or bytes."""
        return self._predictions([_model_inputs(image)])[0]

    def predict_batch(self, images: Sequence[object]) -> list[Prediction]:
        """predict() for many pictures, in the same order, with the model run in batches.

        An unreadable picture raises its error, naming its position in the list.
        """
        inputs = []
        for index, image in enumerate(images):
            try:
                inputs.append(_model_inputs(image))
            except (EmptyImageError, InvalidImageError) as e:
                raise type(e)(f"Image {index} of the batch: {e}") from e
        return self._predictions(inputs)

    def _predictions(self, inputs: list[_Inputs]) -> list[Prediction]:
        """One Prediction per picture; `inputs[i]` holds picture i's whole and its parts, if any."""
        if not inputs:
            return []
        readings = self.read_inputs(np.concatenate([i.pictures for i in inputs]))
        predictions, start = [], 0
        for picture in inputs:
            stop = start + len(picture.pictures)
            predictions.append(self._prediction(picture, readings[start:stop]))
            start = stop
        return self._with_cuts(inputs, predictions)

    def _with_cuts(self, inputs: list[_Inputs], predictions: list[Prediction]) -> list[Prediction]:
        """Each prediction that may hold digits written close or run together replaced by the best
        way to cut them, if any (see `cuts`): a wide drawing read as no sure digit, as a whole, and
        each part of several digits parted at gaps that is read as no sure digit (two digits a
        gap apart beside two closer than a gap: "4 27"). Every candidate part of every such
        picture is read in one more batch."""
        looked = [
            (i, searched)
            for i, (picture, prediction) in enumerate(zip(inputs, predictions, strict=True))
            if (searched := _cut_searches(picture, prediction))
        ]
        if not looked:
            return predictions
        readings = self._read_parts([found for _, searched in looked for found in searched.values()])
        out, start = list(predictions), 0
        for i, searched in looked:
            # Each searched ink (the whole, or part k) by the digits of its best way, if any.
            cut: dict[int | None, tuple[Prediction, ...]] = {}
            first = start
            for k, found in searched.items():
                stop = start + len(found.pictures)
                way = _best_way(found, readings[start:stop])
                if way is not None:
                    cut[k] = tuple(self._single(found.pictures[j], readings[start + j]) for j in way)
                start = stop
            each = cut.get(None) or tuple(
                digit for k, part in enumerate(predictions[i].parts) for digit in cut.get(k, (part,))
            )
            if cut:
                out[i] = replace(
                    each[0], verdict="several_digits", digits=tuple(p.digit for p in each), parts=each
                )
            elif (
                predictions[i].verdict == "not_a_digit"
                and None in searched
                and _digits_run_together(searched[None].ways, readings[first:start])
            ):
                out[i] = replace(predictions[i], verdict="unsure", digits=(predictions[i].digit,))
        return out

    def _read_parts(self, searches: list[_CutCandidates]) -> list[Reading]:
        """The candidate parts of every cut search, read in one batch, in order. The second look
        (`second_look`) only where it may change the answer: at the parts of the ways whose every
        part the first look already reads as a digit at PART_LOOK_AGAIN_FROM; a scribble's many
        parts that are plainly no digit are read once."""
        pictures = np.concatenate([found.pictures for found in searches])
        logits = self._network.logits(pictures)
        first, worth, start = verdict.read(logits, self._thresholds), np.zeros(len(pictures), np.bool_), 0
        for found in searches:
            for way in found.ways:
                if all(first[start + k].confidence >= PART_LOOK_AGAIN_FROM for k in way):
                    worth[[start + k for k in way]] = True
            start += len(found.pictures)
        if not worth.any():
            return first
        logits[worth] = second_look.with_second_look(logits[worth], pictures[worth], self._network.logits)
        return verdict.read(logits, self._thresholds)

    def read_inputs(self, model_inputs: NDArray[np.uint8]) -> list[Reading]:
        """Read (N, 28, 28) uint8 model inputs as they are, with no preprocessing (a logged
        `model_input`, say): each one's digit, probabilities and verdict, as `predict` reads them."""
        # Network.logits runs the model in chunks, so its working memory stays bounded however many
        # pictures (or second-look views of them) come.
        logits = self._network.logits
        return verdict.read(
            second_look.with_second_look(logits(model_inputs), model_inputs, logits), self._thresholds
        )

    def _prediction(self, inputs: _Inputs, readings: list[Reading]) -> Prediction:
        pictures, whole, parts = inputs.pictures, readings[0], readings[1:]
        if verdict.several_digits(whole, parts, inputs.clearly_apart):
            each = tuple(self._single(p, r) for p, r in zip(pictures[1:], parts, strict=True))
            return replace(each[0], verdict="several_digits", digits=tuple(p.digit for p in each), parts=each)
        return self._single(pictures[0], whole)

    def _single(self, picture: NDArray[np.uint8], reading: Reading) -> Prediction:
        return Prediction(
            digit=reading.digit,
            confidence=reading.confidence,
            probabilities=reading.probabilities,
            model_input=_read_only(picture),
            model_version=self._version,
            verdict=reading.verdict,
            digits=() if reading.verdict == "not_a_digit" else (reading.digit,),
            not_a_digit_probability=reading.not_a_digit,
        )


@dataclass(frozen=True)
class _Inputs:
    """What the model reads of one picture: the picture as one digit, then each of several digits
    side by side in it, if `segment` finds two or more; whether they really are digits, the model
    says (see `verdict.several_digits`)."""

    pictures: NDArray[np.uint8]  # (1 + parts, 28, 28)
    clearly_apart: bool = False
    # The ink and where it is clearly ink (`preprocess.strong`), kept where it may hold digits that
    # no gap parts (`cuts`): wide ink, or ink parted at gaps; and the columns of each part.
    ink: NDArray[np.uint8] | None = None
    strong: NDArray[np.bool_] | None = None
    spans: tuple[slice, ...] = ()


@dataclass(frozen=True)
class _CutCandidates:
    """The parts of one picture that `cuts` proposes, as model inputs, and the ways they make it up."""

    pictures: NDArray[np.uint8]  # (parts, 28, 28)
    ways: list[tuple[int, ...]]
    # Each part of a way must read more surely than this: how sure the reading of the ink uncut is,
    # where it was a sure digit (see `_cut_searches`); 0 otherwise.
    to_beat: float = 0.0


def _cut_searches(picture: _Inputs, prediction: Prediction) -> dict[int | None, _CutCandidates]:
    """The inks of one picture that the cut search looks into, keyed by what they are: None for
    the whole, k for part k of several digits parted at gaps; only those with a way to cut."""
    if picture.ink is None or picture.strong is None:
        return {}
    extent = max(picture.ink.shape)
    inks: dict[int | None, slice]
    to_beat = 0.0
    if prediction.verdict == "several_digits":
        inks = {
            k: span
            for k, (span, part) in enumerate(zip(picture.spans, prediction.parts, strict=True))
            if _may_be_cut(part)
        }
    elif _may_be_cut(prediction):
        inks = {None: slice(None)}
    elif cuts.has_blank_columns(picture.strong):
        # A sure digit, but blank columns part its ink, too narrow for `segment`'s gap: "13" a
        # pixel apart reads as a sure 3 as often as not. It is cut only where every part reads
        # more surely still. On numbers 1-3 px apart (validation digits, 300 a gap) that found
        # 1.7-2.3 points more, all right too; no single pen digit, mouse-style digit, non-digit or
        # Omniglot letter of the validation sets changed its reading.
        inks, to_beat = {None: slice(None)}, min(prediction.confidence, SUREST_TO_BEAT)
    else:
        inks = {}
    searched = {
        k: _cut_candidates(picture.ink[:, span], picture.strong[:, span], extent, to_beat)
        for k, span in inks.items()
        if cuts.could_be_several(picture.strong[:, span])
    }
    return {k: found for k, found in searched.items() if found.ways}


def _cut_candidates(
    ink: NDArray[np.uint8], strong: NDArray[np.bool_], extent: int, to_beat: float = 0.0
) -> _CutCandidates:
    """`cuts` of this ink as model inputs; `extent`: the whole picture's longest side (specks);
    `to_beat`: how surely each part of a way must read (`_CutCandidates`)."""
    with timings.timed("preprocess"):
        found = cuts.cuts(ink, strong)
        pictures: list[NDArray[np.uint8] | None] = []
        for part in found.parts:
            try:
                pictures.append(preprocess.digit_input(part, picture_extent=extent))
            except EmptyImageError:  # only a speck of ink on that side of the seam
                pictures.append(None)
        ways = [way for way in found.ways if all(pictures[k] is not None for k in way)]
        blank = np.zeros((preprocess.MODEL_SIZE, preprocess.MODEL_SIZE), np.uint8)
        stacked = np.stack([blank if p is None else p for p in pictures]) if ways else blank[:0]
        return _CutCandidates(stacked, ways, to_beat)


def _best_way(found: _CutCandidates, readings: list[Reading]) -> tuple[int, ...] | None:
    """The way whose parts all read as confident digits, more surely than `found.to_beat`, and read
    best; or None."""
    fits = [
        way
        for way in found.ways
        if all(_sure_part(readings[k]) and readings[k].confidence > found.to_beat for k in way)
    ]
    if not fits:
        return None
    return max(fits, key=lambda way: _way_score(way, readings))


# A part of a cut counts as a digit only when read this surely, more surely than a drawing of one
# digit must be: many ways to cut are tried, and a letter or a scribble cut up may have parts that
# look like digits. Measured on `reader_quality` sets (shipped model): at 0.97 / 0.1, 3.8% of the
# non-digits that are no run-together digits were read as several (0.9 / 0.2: 5.3%), but
# numbers with 2 px gaps were found 90% of the time (0.9 / 0.2: 94-97%), overlapping by 3 px 58% (73-88%).
PART_SURE_FROM: Final = 0.9
PART_NOT_A_DIGIT_BELOW: Final = 0.2
# The parts of a way get a second look when the first reads each as a digit at least this surely.
# Measured on validation (numbers of MNIST validation digits, 300 a gap; Omniglot's validation
# letters): a second look at every part found 0.7-1.0 points more numbers 1-3 px apart all right
# and turned away 0.2 points more letters than the first look alone, but took a hostile scribble's
# 120 parts from 174 to 440 ms (median of 15, a busy machine). Looking again only at these parts
# gave the same figures, and the scribble 169 ms against 178 ms for the first look alone.
PART_LOOK_AGAIN_FROM: Final = 0.5
# A sure digit's cut needs parts surer than it, but no surer than this: a calibrated 0.9995 is as
# sure as the reader gets.
SUREST_TO_BEAT: Final = 0.999


# A wide drawing read as one digit less surely than this may be several written close together:
# the cut search reads its parts too (see `_may_be_cut`). The model reads a fifth of the numbers
# 1-3 px apart as one digit, mostly at 55-95%. Chosen on validation (numbers of MNIST validation
# digits, 300 a gap; the pen digits' validation rows), model dk-20261207-6ecdf5f8: from 0 (cut only
# "unsure" and "not a digit") to 0.9, numbers 2 px apart were found 81% -> 91%, touching 74% -> 87%,
# overlapping 2 px 56% -> 67%, while 0.47% of single pen digits were cut up (0.07% before) and
# 0.3 points fewer read right; 0.95 and 0.99 found 1-2 points more numbers and cut up 0.5-1.2%.
CUT_WHOLE_BELOW: Final = 0.9


def _digits_run_together(ways: list[tuple[int, ...]], readings: list[Reading]) -> bool:
    """Whether some way to cut the whole reads as digits throughout, if not surely: digits run
    together that the cuts cannot tell apart. The reader is unsure of those; it must not say that
    there is no digit. On numbers of validation digits (300 a gap), "not a digit" at any gap fell
    from at most 9.3% to 3.3%; 4.6% of the synthetic non-digits and 4.8% of Omniglot's letters went
    from "not a digit" to "unsure" (wide ones, whose parts read as digits)."""
    return any(all(readings[k].verdict == "digit" for k in way) for way in ways)


def _may_be_cut(prediction: Prediction) -> bool:
    """Whether a wide drawing's reading leaves room for several digits: it is no sure single digit."""
    return prediction.verdict in ("unsure", "not_a_digit") or (
        prediction.verdict == "digit" and prediction.confidence < CUT_WHOLE_BELOW
    )


def _sure_part(reading: Reading) -> bool:
    return (
        reading.verdict == "digit"
        and reading.confidence >= PART_SURE_FROM
        and reading.not_a_digit < PART_NOT_A_DIGIT_BELOW
    )


def _way_score(way: tuple[int, ...], readings: list[Reading]) -> float:
    return float(np.sum([np.log(readings[k].confidence * (1 - readings[k].not_a_digit) + 1e-9) for k in way]))


def _model_inputs(image: object) -> _Inputs:
    with timings.timed("preprocess"):
        return _preprocessed(image)


def _preprocessed(image: object) -> _Inputs:
    ink = preprocess.ink_of(image)
    whole = preprocess.digit_input(ink)
    strong = preprocess.strong(ink)
    found = segment.digit_spans(strong)
    # The ink is kept for the cut search, with its clear ink, computed once here, where it may
    # hold digits no gap parts: wide ink, or the parts of ink parted at gaps.
    kept_ink, kept_strong = (ink, strong) if found.spans or cuts.could_be_several(strong) else (None, None)
    parts = []
    for span in found.spans:
        try:
            parts.append(preprocess.digit_input(ink[:, span], picture_extent=max(ink.shape)))
        except EmptyImageError:  # a piece that is only a speck: no several digits after all
            return _Inputs(whole[np.newaxis], ink=kept_ink, strong=kept_strong)
    return _Inputs(
        np.stack([whole, *parts]),
        found.clearly_apart,
        ink=kept_ink,
        strong=kept_strong,
        spans=tuple(found.spans),
    )


def _read_only(picture: NDArray[np.uint8]) -> NDArray[np.uint8]:
    # Its own copy (not a view that would keep a whole batch alive), and frozen: a
    # Prediction is a record of what the model saw.
    own = picture.copy()
    own.flags.writeable = False
    return own


def _session_options(threads: int) -> ort.SessionOptions:
    options = ort.SessionOptions()
    # One thread per run for serving, on purpose. At batch 1 the network takes ~0.3 ms; handing
    # that to a thread pool costs more in wake-up and sync than it saves. And the servers call
    # predict from many threads (web sessions, API workers) at once: each call already has a
    # core, so a per-call pool would only make the threads fight over the same few cores.
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def _open_session(path: Path, threads: int) -> ort.InferenceSession:
    if not path.is_file():
        raise ModelNotFoundError(
            f"No model at {path}. Train one with `digit-knower train`, or point "
            "DIGIT_KNOWER_MODEL_DIR at a folder holding digit_cnn.onnx and model_card.json."
        )
    try:
        session = ort.InferenceSession(
            str(path), sess_options=_session_options(threads), providers=["CPUExecutionProvider"]
        )
    except Exception as e:  # ONNX Runtime raises its own exception types for broken files
        raise ModelNotFoundError(f"{path} is not a loadable ONNX model ({e}). Train or copy it anew.") from e
    names = ([i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()])
    if INPUT_NAME not in names[0] or OUTPUT_NAME not in names[1]:
        raise ModelNotFoundError(
            f"{path} has inputs {names[0]} and outputs {names[1]}; a digit model needs "
            f"input {INPUT_NAME!r} and output {OUTPUT_NAME!r}."
        )
    return session


def _read_card(path: Path) -> dict[str, Any]:
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ModelNotFoundError(
            f"No model card at {path}: the model's version is unknown. Train the model again "
            "with `digit-knower train`, which writes both files."
        ) from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelNotFoundError(f"The model card {path} cannot be read as JSON: {e}") from e
    if not isinstance(card, dict) or not isinstance(card.get("version"), str) or not card["version"]:
        raise ModelNotFoundError(f"The model card {path} has no 'version' string.")
    return card
