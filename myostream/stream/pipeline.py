"""The real-time retrieval pipeline: Source → RingBuffer → Resampler → FilterStage → per-user scale → Windower → ranker.

Two threads do the work so that neither the device nor a GUI ever waits on the model:

- the *reader* thread drains the source into a preallocated :class:`RingBuffer` and notes
  the wall time each chunk arrived (the start of every latency measurement);
- the *worker* thread takes whatever is new from the ring, prepares it as the model's
  :class:`~myostream.preprocess.Preprocessing` says (the channels the user mapped, a
  causal resampler when the stream runs at another rate than the model, the model's
  causal filter at the model's rate, then the wearer's level learnt live when the model
  normalises per user, and for ring bands the way the band sits, estimated from the
  wearer's first seconds once their level is known, those seconds scaled by their own
  level as the offline evaluation does; given a self-calibration, the base model then
  calibrates to the wearer from those same seconds, on the labels it gives them itself, and
  takes over between two hops), cuts a window every hop and
  ranks the windows with the model (batched when it fell behind), turning each into a
  :class:`HopRanking`. The pipeline takes its preprocessing from the model and nowhere else,
  so it cannot run a model on signal prepared differently from its training windows.

Rankings go to a callback, a bounded drop-oldest queue (what a GUI polls) and optionally
an LSL marker stream of JSON strings. A free-text query (any description's embedding) is
scored against every window's embedding too: text → EMG, live.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike

from myostream.errors import MyostreamError
from myostream.preprocess import FilterSpec, Preprocessing, user_scale
from myostream.records import UNKNOWN_LABEL, Chunk, Source, StreamInfo
from myostream.rejection import Rejection
from myostream.stream.filters import FilterStage
from myostream.stream.meters import RateMeter, RecentValues
from myostream.stream.normalise import RunningUserScale
from myostream.stream.orientation import ESTIMATE_SECONDS, Orientation, estimate_orientation
from myostream.stream.resample import Resampler, resampling_factors
from myostream.stream.ring import RingBuffer
from myostream.stream.windows import Windower, ms_to_samples

log = logging.getLogger(__name__)

#: Hops of backlog the worker ranks at most in one go; older pending hops are skipped (counted).
MAX_BATCH = 32
#: Rankings of an empty window before the first hop (see :meth:`Pipeline._warm_up`).
WARM_UP_CALLS = 3
#: Seconds :meth:`Pipeline.stop` waits for an orientation estimate still running (it ranks every
#: candidate turn, seconds of CPU; a self-calibration after it stops at its next batch): a process
#: that exits with torch busy on a daemon thread aborts
STOP_ESTIMATE_S = 10.0


@dataclass(frozen=True)
class RankedClass:
    """One candidate description: its class id, short label (T0) and score (cosine similarity)."""

    class_id: str
    label: str
    score: float


@dataclass(frozen=True)
class Latency:
    """Milliseconds, measured from the wall time the window's last sample was read off the source."""

    #: arrival → the worker picked the samples up from the ring
    wait_ms: float
    #: causal filtering of the span that completed the window
    filter_ms: float
    #: the model call (shared by the windows ranked in one batch)
    model_ms: float
    #: arrival → ranking ready
    total_ms: float


@dataclass
class HopRanking:
    """What the model says about one window (one hop of the stream), with the pipeline's bookkeeping
    (timestamp, latency, truth, smoothing, the rejection rule's verdict); a batch of windows ranked
    at once is the model's :class:`~myostream.model.BatchRanking`."""

    #: LSL timestamp of the window's last sample
    timestamp: float
    #: ring counter of the window's last sample
    counter: int
    #: the top-k candidates, best first (scores smoothed when the pipeline smooths)
    top: list[RankedClass]
    #: scores of every candidate, in the order of :attr:`Pipeline.class_ids`
    scores: np.ndarray
    #: RMS per patch and channel of the (filtered) window, float32[patches, C]
    rms: np.ndarray
    #: attention of each semantic query over the patches, float32[M, patches]
    attention: np.ndarray
    #: the true class id when the source knows it (window majority label), else None
    true_class: str | None
    #: similarity of each free-text query to this window's embedding
    text_scores: dict[str, float]
    latency: Latency
    #: the wearer's level or the way the band sits is still being learnt
    settling: bool = False
    #: the model's rejection rule accepts the first description (always True for a model without one)
    confident: bool = True
    #: the rule's confidence measure of these scores (None for a model without a rule)
    confidence: float | None = None

    @property
    def best(self) -> RankedClass:
        return self.top[0]

    def to_json(self) -> str:
        """The compact form published on LSL: top-k, whether the first is a confident match (and
        the rule's confidence), truth, text scores, latency."""
        return json.dumps(
            {
                "t": self.timestamp,
                "top": [[r.class_id, round(r.score, 4)] for r in self.top],
                "confident": self.confident,
                "confidence": None if self.confidence is None else round(self.confidence, 4),
                "true": self.true_class,
                "text": {k: round(v, 4) for k, v in self.text_scores.items()},
                "latency_ms": round(self.latency.total_ms, 2),
            }
        )


class RankerOutput(Protocol):
    """What a :class:`Ranker` says about a batch of windows: ``all_scores [B, classes]``, the
    unit-norm embeddings ``z [B, d]``, ``attention [B, M, N]`` (None for a model without
    queries) and ``rms [B, N, C]``. The torch model's :class:`~myostream.model.BatchRanking`
    (tensors) and the ONNX runtime's :class:`~myostream.edge.ranker.EdgeRanking` (arrays) are two."""

    @property
    def all_scores(self) -> ArrayLike: ...

    @property
    def z(self) -> ArrayLike: ...

    @property
    def attention(self) -> ArrayLike | None: ...

    @property
    def rms(self) -> ArrayLike: ...


class Ranker(Protocol):
    """What the pipeline needs from a model; :class:`myostream.model.MyoSem` is one.

    ``config`` says which signal it accepts (``n_channels``, ``rate``, ``window_ms``,
    ``window_samples``, ``d_embed``), ``preprocessing`` what that signal went through,
    ``class_ids`` the candidates, ``catalog`` their label and canonical description;
    ``rank(windows, k)`` scores a batch of windows (:class:`RankerOutput`).
    """

    # read-only members: a model may hold a tuple or a dict where a Sequence or a Mapping is asked
    @property
    def config(self) -> Any: ...

    @property
    def preprocessing(self) -> Preprocessing: ...

    @property
    def class_ids(self) -> Sequence[str]: ...

    @property
    def catalog(self) -> Mapping[str, Any]: ...

    def rank(self, windows: np.ndarray, k: int = 5) -> RankerOutput: ...


#: ``(ranker, windows [N, T, C] of the wearer's first seconds as ranked, stop) -> a ranker calibrated
#: to the wearer, or None``: self-calibration without labels, given by a layer that trains
#: (:func:`myostream.train.adapt.self_calibrate_ranker`); it ends early, raising, once ``stop`` is set
SelfCalibrate = Callable[[Ranker, np.ndarray, threading.Event], "Ranker | None"]


@dataclass
class PipelineStats:
    """A snapshot for status lines."""

    #: samples per second of wall time over the last few seconds (falls to 0 during an outage)
    rate: float
    #: seconds since the last sample arrived (an outage as it happens)
    silent_s: float
    nominal_rate: float
    samples: int
    #: samples the source reported missing plus samples the ring overwrote before the worker read them
    lost: int
    rankings: int
    #: rankings dropped from the full queue (the consumer polled too slowly)
    dropped: int
    #: hops not ranked because the worker fell more than ``MAX_BATCH`` hops behind
    skipped: int
    #: latency percentiles over the last ``latency_window_s`` seconds (NaN before the first ranking)
    latency_p50_ms: float
    latency_p99_ms: float
    device: str
    running: bool
    paused: bool


class _RankingQueue:
    """Bounded FIFO that drops the oldest item when full and counts what it dropped."""

    def __init__(self, maxlen: int) -> None:
        self._items: deque[HopRanking] = deque()
        self._maxlen = maxlen
        self._cond = threading.Condition()
        self.dropped = 0

    def put(self, item: HopRanking) -> None:
        with self._cond:
            if len(self._items) >= self._maxlen:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cond.notify()

    def get(self, timeout: float | None = None) -> HopRanking | None:
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            return self._items.popleft() if self._items else None

    def drain(self) -> list[HopRanking]:
        with self._cond:
            items = list(self._items)
            self._items.clear()
            return items


class Pipeline:
    """Rank descriptions of the live EMG of ``source``, one :class:`HopRanking` per hop.

    The signal is prepared as ``ranker.preprocessing`` says: its causal filter, then, for
    models that normalise per user, the wearer's own level learnt live
    (:class:`~myostream.stream.normalise.RunningUserScale`; ``user_scale`` starts it from a
    known level, e.g. the one a calibration measured). A stream at another rate than the
    model's is resampled causally to the model's rate first (the filter then runs at the
    model's rate, as in training). ``channels`` maps the source's channels to the model's
    (source channel indices in the model's order); without it the counts must match.
    ``window_ms`` defaults to the model's window; ``hop_ms`` to the preprocessing's hop.
    ``self_calibrate`` (:data:`SelfCalibrate`): for ring bands, once the orientation is known, it
    calibrates the model to the wearer from the same first seconds, without labels, and its
    model takes over (the live app gives :func:`myostream.train.adapt.self_calibrate_ranker`;
    :attr:`self_calibration` says on what).
    ``smoothing`` in [0, 1) is the weight of the previous scores in an exponential
    average over hops (0 = no smoothing). Each ranking is marked ``confident`` when
    :attr:`rejection` (the model's rule, :mod:`myostream.rejection`; None accepts all)
    accepts the scores it shows (smoothed when smoothing is on). ``publish_rankings`` names an LSL marker
    stream to publish each ranking on as a JSON string. Rankings go to ``on_ranking``
    (called on the worker thread) and to :attr:`queue` (bounded, drops the oldest).

    ``ranker`` None streams without ranking (the raw samples fill :attr:`ring`, e.g. while a
    person calibrates a device no model fits yet); :meth:`set_ranker` starts or changes the
    model later without reopening the source, and :meth:`tap` lets a recorder read along.

    The default live model ranks a window in a few ms with one torch thread; call
    ``torch.set_num_threads(1)`` in a process that also draws a GUI, where a thread pool
    would compete with the GUI thread for the cores.

    :meth:`start` warms the model up (a few rankings of an empty window) before the first
    samples are read, so the first hops are not ranked by a cold model; the latency
    percentiles of :meth:`stats` cover the last ``latency_window_s`` seconds, so a slow
    start does not linger in them.
    """

    def __init__(
        self,
        source: Source,
        ranker: Ranker | None,
        window_ms: float | None = None,
        hop_ms: float | None = None,
        smoothing: float = 0.0,
        publish_rankings: str | None = None,
        device: str = "auto",
        top_k: int = 5,
        queue_size: int = 256,
        on_ranking: Callable[[HopRanking], None] | None = None,
        buffer_s: float = 10.0,
        latency_window_s: float = 10.0,
        user_scale: np.ndarray | None = None,
        channels: Sequence[int] | None = None,
        self_calibrate: SelfCalibrate | None = None,
    ) -> None:
        if not 0.0 <= smoothing < 1.0:
            raise MyostreamError(
                f"smoothing = {smoothing} must lie in [0, 1): it is the weight of the previous scores."
            )
        if top_k < 1:
            raise MyostreamError(f"top_k = {top_k} must be at least 1.")
        self.source = source
        self.user_scale = None if user_scale is None else np.asarray(user_scale, np.float32)
        self.channels = None if channels is None else [int(c) for c in channels]
        self.smoothing = float(smoothing)
        self.publish_rankings = publish_rankings
        self.top_k = int(top_k)
        self.on_ranking = on_ranking
        self.buffer_s = float(buffer_s)
        self.queue = _RankingQueue(queue_size)
        self._asked = (window_ms, hop_ms, device)
        #: the model ranking the windows (None: the stream only flows into :attr:`ring`, see :meth:`set_ranker`)
        self.ranker: Ranker | None = None
        self.preprocessing: Preprocessing | None = None
        #: the rate windows are cut at: the model's (the source's when equal, or without a model)
        self.model_rate = 0.0
        self.window_ms = self.hop_ms = 0.0
        self.device = "cpu"
        self.class_ids: tuple[str, ...] = ()
        self._labels: tuple[str, ...] = ()
        #: when a ranking's first description is confident enough to show: the model's rule (None: always)
        self.rejection: Rejection | None = None
        if ranker is not None:
            self._bind(ranker)
        #: the first exception raised on a pipeline thread (the threads stop after it)
        self.error: BaseException | None = None
        self.on_error: Callable[[BaseException], None] | None = None

        self.ring: RingBuffer | None = None
        #: filtered samples, for displays (written by the worker only; stretches it skipped,
        #: paused or lost, are not in it, so its counters are its own)
        self.filtered: RingBuffer | None = None
        self.info: StreamInfo | None = None
        #: the live per-user level (None until started, or when the model does not normalise per user)
        self.normaliser: RunningUserScale | None = None
        #: how the band sits, once estimated (ring bands): the correction applied to every window
        self.orientation: Orientation | None = None
        #: the estimate's evidence per candidate (see :func:`estimate_orientation`)
        self.orientation_evidence: dict[str, Any] | None = None
        #: calibrates a base model to the wearer from the same first seconds, unlabelled (None: not)
        self.self_calibrate = self_calibrate
        #: what the self-calibration learnt from (windows, those labelled, classes), once its model ranks
        self.self_calibration: dict[str, Any] | None = None
        self._swap_lock = threading.Lock()
        self._estimating: threading.Thread | None = None
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._new_data = threading.Event()
        self._reader: threading.Thread | None = None
        self._worker: threading.Thread | None = None
        self._outlet: Any = None
        self._opened = False
        self._text_lock = threading.Lock()
        self._text_names: tuple[str, ...] = ()
        self._text_matrix = np.zeros((0, 0), np.float32)
        # Reader → worker bookkeeping (deques: append on one thread, popleft on the other).
        self._arrivals: deque[tuple[int, float]] = deque(maxlen=65536)
        self._gaps: deque[tuple[int, int]] = deque(maxlen=4096)
        self._rate = RateMeter()
        self._latencies = RecentValues(latency_window_s)
        self._source_lost = 0
        self._ring_lost = 0
        self._rankings = 0
        self._skipped = 0
        # a ranker that takes over between two hops (set_ranker), and a worker asked to make way
        self._next_ranker: Ranker | None = None
        self._restart = threading.Event()
        self._worker_from = 0

    def _plan(self, ranker: Ranker) -> tuple[float, float, str]:
        """The window and hop (ms) and the device ``ranker`` runs with here; raises when they cannot be."""
        window_ms, hop_ms, device = self._asked
        model_ms = float(ranker.config.window_ms)
        window = float(window_ms if window_ms is not None else model_ms)
        if not math.isclose(window, model_ms, rel_tol=1e-6):
            raise MyostreamError(
                f"Model {ranker.config.name!r} ranks windows of {model_ms:g} ms, not {window:g} ms; "
                "leave window_ms unset or use a model trained on that window."
            )
        hop = float(hop_ms if hop_ms is not None else ranker.preprocessing.hop_ms)
        if not hop > 0:
            raise MyostreamError(f"hop_ms must be positive, got {hop}.")
        return window, hop, _ranker_device(ranker, device)

    def _bind(self, ranker: Ranker) -> None:
        """Take ``ranker``'s preparation of the signal (its window, hop, rate) and its candidates."""
        self.window_ms, self.hop_ms, self.device = self._plan(ranker)
        self.ranker, self.preprocessing = ranker, ranker.preprocessing
        self.model_rate = float(ranker.preprocessing.rate)
        self._window = int(ranker.config.window_samples)
        self._name_candidates(ranker)

    def _name_candidates(self, ranker: Ranker) -> None:
        self.class_ids = tuple(ranker.class_ids)
        self._labels = tuple(ranker.catalog[c].label if c in ranker.catalog else c for c in self.class_ids)
        self.rejection = getattr(ranker, "rejection", None)

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> Pipeline:
        """Warm the model up, open the source, check it matches the model, and start both threads."""
        if self._reader is not None:
            raise MyostreamError("This pipeline was already started; make a new Pipeline to start again.")
        if self.ranker is not None:
            if hasattr(self.ranker, "to"):
                self.ranker.to(self.device)
            self._warm_up(self.ranker)  # before opening: a replay's clock or a device's buffer starts at open()
        self.source.open()
        self._opened = True
        try:
            info = self.source.info
            if self.ranker is not None:
                self._check_matches_model(info)
            else:
                self.model_rate = float(info.rate)
            self.info = info
            self.ring = RingBuffer.for_seconds(self.buffer_s, info.rate, info.n_channels)
            if self.ranker is not None:
                self._make_model_buffers()
            if self.publish_rankings:
                from myostream.stream.lsl import LSLMarkerOutlet

                self._outlet = LSLMarkerOutlet(self.publish_rankings, source_id=f"myostream-rankings-{info.name}")
        except BaseException:
            self._close_source()
            raise
        self._reader = threading.Thread(
            target=self._guard, args=(self._read_loop,), name="myostream-reader", daemon=True
        )
        self._reader.start()
        if self.ranker is not None:
            self._start_worker()
        return self

    def _make_model_buffers(self) -> None:
        assert self.ranker is not None
        self.filtered = RingBuffer.for_seconds(self.buffer_s, self.model_rate, int(self.ranker.config.n_channels))
        self._hop = ms_to_samples(self.hop_ms, self.model_rate)

    def _start_worker(self) -> None:
        self._worker = threading.Thread(
            target=self._guard, args=(self._work_loop,), name="myostream-worker", daemon=True
        )
        self._worker.start()

    def set_ranker(self, ranker: Ranker) -> None:
        """Rank with ``ranker`` from the next hop on, without touching the source: its samples keep
        flowing and nothing is reopened (a person's calibrated model replaces the base live).

        A ranker whose signal preparation equals the current one (rate, channels, window, hop,
        filter, normalisation, ring) takes over between two hops and keeps the filter state, the
        wearer's level and the band's orientation. Otherwise (or in a pipeline started without a
        ranker) the worker restarts on the new preparation from the newest sample. The ranker is
        checked against the stream and warmed up in the calling thread: a model that does not fit
        raises :class:`MyostreamError` and the current one goes on ranking.
        """
        if self.info is None or self.ring is None:
            raise MyostreamError("Start the pipeline before giving it another model.")
        if self.error is not None or self._stop.is_set():
            raise MyostreamError("The pipeline has stopped; start a new one with this model.")
        _, hop, device = self._plan(ranker)
        self._check_matches_model(self.info, ranker)
        fits = (
            self.ranker is not None
            and self.ranking
            and hop == self.hop_ms
            and same_preparation(self.ranker.preprocessing, ranker.preprocessing)
            and ranker.config.window_samples == self._window
        )
        if hasattr(ranker, "to"):
            ranker.to(device)
        self._warm_up(ranker)
        if fits:
            with self._swap_lock:
                self._next_ranker = ranker  # the worker takes it between two hops
            self._new_data.set()
            return
        if self._worker is not None:
            self._restart.set()
            self._new_data.set()
            self._worker.join()
            self._restart.clear()
        self._bind(ranker)
        self._make_model_buffers()
        self._worker_from = self.ring.count
        self._start_worker()

    @property
    def ranking(self) -> bool:
        """A model ranks the stream (False for a pipeline started without a ranker)."""
        return self._worker is not None and self._worker.is_alive()

    def tap(self) -> PipelineTap:
        """The raw stream as a :class:`Source` another consumer reads along from now on (a session
        recorder while the pipeline ranks); closing it leaves the pipeline and its source running."""
        return PipelineTap(self)

    def stop(self) -> None:
        """Stop both threads, close the source and the LSL outlet. Safe to call twice."""
        self._stop.set()
        self._new_data.set()
        for thread in (self._reader, self._worker):
            if thread is not None and thread is not threading.current_thread():
                thread.join()
        if self._estimating is not None:  # a self-calibration ends at its next batch once stopped
            self._estimating.join(timeout=STOP_ESTIMATE_S)
        self._close_source()
        if self._outlet is not None:
            self._outlet.close()
            self._outlet = None

    def __enter__(self) -> Pipeline:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def pause(self) -> None:
        """Stop ranking (the source keeps being read, so the device never backs up)."""
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()
        self._new_data.set()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    @property
    def running(self) -> bool:
        """The stream flows (and is ranked, when the pipeline has a model)."""
        return self._reader is not None and self._reader.is_alive() and not self._stop.is_set()

    @property
    def filter_spec(self) -> FilterSpec | None:
        """The causal filter the samples pass (the model's, from its preprocessing; None without a model)."""
        return None if self.preprocessing is None else self.preprocessing.filter

    def _close_source(self) -> None:
        if self._opened:
            self._opened = False
            self.source.close()

    def _warm_up(self, ranker: Ranker) -> None:
        """Rank an empty window a few times: a model's first calls allocate and pick kernels (~200 ms)."""
        empty = np.zeros((1, int(ranker.config.window_samples), int(ranker.config.n_channels)), np.float32)
        for _ in range(WARM_UP_CALLS):
            ranker.rank(empty, k=1)

    def _check_matches_model(self, info: StreamInfo, ranker: Ranker | None = None) -> None:
        ranker = ranker if ranker is not None else self.ranker
        assert ranker is not None
        cfg = ranker.config
        model_rate = float(ranker.preprocessing.rate)
        if self.channels is not None:
            if mapped_channel_count(info, self.channels) != cfg.n_channels:
                raise MyostreamError(
                    f"The channel map {self.channels} must name {cfg.n_channels} of source {info.name!r}'s channels "
                    f"0..{info.n_channels - 1} (one per model channel, in the model's order)."
                )
        elif info.n_channels != cfg.n_channels:
            raise MyostreamError(
                f"Source {info.name!r} streams {info.n_channels} channels but model {cfg.name!r} expects "
                f"{cfg.n_channels}; pick a model trained for this device (--model) or map channels explicitly "
                f"(--channels with {cfg.n_channels} source channel numbers)."
            )
        if not math.isclose(info.rate, model_rate, rel_tol=1e-3):
            try:
                resampling_factors(info.rate, model_rate)
            except MyostreamError:
                raise MyostreamError(
                    f"Source {info.name!r} streams at {info.rate:g} Hz and model {cfg.name!r} takes {model_rate:g} "
                    "Hz, a ratio the resampler cannot do with small factors; use a model trained at the stream's rate."
                ) from None

    def _guard(self, loop: Callable[[], None]) -> None:
        try:
            loop()
        except BaseException as exc:  # surfaced through .error / on_error; the other thread stops too
            if self.error is None:
                self.error = exc
                if self.on_error is not None:
                    self.on_error(exc)
            self._stop.set()
            self._new_data.set()

    # -- free-text queries --------------------------------------------------------------

    def set_text_queries(self, queries: Mapping[str, np.ndarray]) -> None:
        """Score these embeddings (name → float[d], e.g. from TextEncoder) against every window."""
        names = tuple(queries)
        if names and self.ranker is None:
            raise MyostreamError("Text queries need a model; this pipeline has none yet.")
        d = int(self.ranker.config.d_embed) if self.ranker is not None else 0
        if names and self.ranker is not None:
            mat = np.stack([_numpy(queries[n]).reshape(-1) for n in names])
            if mat.shape[1] != d:
                raise MyostreamError(
                    f"Text query embeddings have {mat.shape[1]} values but model {self.ranker.config.name!r} "
                    f"embeds in {d}; encode the text with the checkpoint's text encoder."
                )
            norms = np.linalg.norm(mat, axis=1, keepdims=True)
            mat = mat / np.maximum(norms, 1e-12)
        else:
            mat = np.zeros((0, 0), np.float32)
        with self._text_lock:
            self._text_names, self._text_matrix = names, mat

    # -- statistics ---------------------------------------------------------------------

    def stats(self) -> PipelineStats:
        return PipelineStats(
            rate=self._rate.rate(),
            silent_s=self._rate.silent_s(),
            nominal_rate=self.info.rate if self.info else 0.0,
            samples=self.ring.count if self.ring else 0,
            lost=self._source_lost + self._ring_lost,
            rankings=self._rankings,
            dropped=self.queue.dropped,
            skipped=self._skipped,
            latency_p50_ms=self._latencies.percentile(50),
            latency_p99_ms=self._latencies.percentile(99),
            device=self.device,
            running=self.running,
            paused=self.paused,
        )

    # -- threads ------------------------------------------------------------------------

    def _read_loop(self) -> None:
        assert self.ring is not None
        ring = self.ring
        while not self._stop.is_set():
            asked = time.monotonic()
            chunk = self.source.read(timeout=0.02)
            n = len(chunk)
            if n == 0:
                if time.monotonic() - asked < 0.01:  # an ended replay answers at once: do not spin
                    self._stop.wait(0.02)
                continue
            arrived = time.perf_counter()
            if chunk.lost:
                self._source_lost += chunk.lost
                self._gaps.append((ring.count, chunk.lost))
            ring.write(chunk.data, chunk.timestamps, chunk.labels)
            self._arrivals.append((ring.count, arrived))
            self._rate.add(n)
            self._new_data.set()

    def _work_loop(self) -> None:
        assert self.ring is not None and self.filtered is not None and self.info is not None
        assert self.ranker is not None and self.preprocessing is not None
        ring, info, pre = self.ring, self.info, self.preprocessing
        n_ch = int(self.ranker.config.n_channels)
        resampler = None
        if not math.isclose(info.rate, self.model_rate, rel_tol=1e-3):
            resampler = Resampler(info.rate, self.model_rate, n_ch)
        filt = FilterStage(self.model_rate, n_ch, self.filter_spec)
        norm = None
        if pre.normalisation != "none":
            given = self.user_scale if self.user_scale is not None else pre.prior_scale
            prior = None if given is None else [float(v) for v in given]
            norm = self.normaliser = RunningUserScale(self.model_rate, n_ch, pre.normalisation, prior=prior)
            if self.user_scale is not None:
                norm.start_settled()
        windower = Windower(self._window, self._hop, n_ch)
        # a ring band's orientation: estimated once from the first ESTIMATE_SECONDS of filtered signal
        # after the level settled (as worn until then); kept unscaled, so that the estimate scales them
        # by their own level as offline rather than by the running level, still moving then
        orient = Orientation() if not pre.ring or norm is None else None
        estimate_samples = max(self._window, round(ESTIMATE_SECONDS * self.model_rate))
        first_signal: list[np.ndarray] = []
        first_n = 0
        # the estimate ranks every candidate turn over 35 s of windows: seconds of CPU. It runs beside
        # this loop, which keeps ranking (as worn, flagged settling) rather than stalling the display
        # and letting the device's buffer overflow
        estimating: threading.Thread | None = None
        estimated: list[Orientation] = []
        label_names = info.label_names
        counter = self._worker_from
        out_counter = 0  # samples at the model's rate (the source's counter when no resampling)
        smoothed: np.ndarray | None = None
        windows = np.empty((MAX_BATCH, self._window, n_ch), np.float32)
        truths: list[int] = [UNKNOWN_LABEL] * MAX_BATCH
        meta: list[tuple[int, float]] = [(0, 0.0)] * MAX_BATCH
        while not self._stop.is_set() and not self._restart.is_set():
            self._new_data.wait(0.05)
            self._new_data.clear()
            if self._stop.is_set() or self._restart.is_set():
                break
            if self._next_ranker is not None:  # between two hops: the same preparation, another model
                with self._swap_lock:
                    self.ranker, self._next_ranker = self._next_ranker, None
                self._name_candidates(self.ranker)
                smoothed = None
            if self._paused.is_set():
                # Skip what arrives while paused; start afresh (no stale filter state) on resume.
                counter = ring.count
                filt.reset()
                windower.reset()
                first_signal, first_n = [], 0  # the estimate's seconds are contiguous, as offline
                if resampler is not None:
                    resampler.reset()
                smoothed = None
                continue
            span = ring.since(counter)
            if len(span) == 0 and not span.lost:
                continue
            picked_up = time.perf_counter()
            self._ring_lost += span.lost
            counter = span.end
            n_win = 0
            filter_s = 0.0
            for seg_start, seg_end, lost in self._segments(span.start, span.end, span.lost):
                a, b = seg_start - span.start, seg_end - span.start
                t0 = time.perf_counter()
                x, stamps, labels = span.data[a:b], span.timestamps[a:b], span.labels[a:b]
                if self.channels is not None:
                    x = x[:, self.channels]
                if lost:
                    filt.reset()
                    first_signal, first_n = [], 0
                if resampler is None:
                    out_start = seg_start
                else:
                    if lost:
                        resampler.reset()
                    resampled = resampler.process_chunk(x, stamps, labels)
                    x, stamps = resampled.data, resampled.timestamps
                    # labels given, labels back (the ring always carries them, UNKNOWN where none)
                    labels = resampled.labels if resampled.labels is not None else np.full(len(x), UNKNOWN_LABEL)
                    out_start = out_counter
                    out_counter += len(x)
                y = filt.process(x)
                filter_s += time.perf_counter() - t0
                self.filtered.write(y, stamps)
                if orient is None and estimating is None and norm is not None and norm.settled:
                    first_signal.append(y)
                    first_n += len(y)
                    if first_n >= estimate_samples:
                        first = np.concatenate(first_signal)[:estimate_samples]
                        first_signal, first_n = [], 0
                        estimating = self._estimating = threading.Thread(
                            target=self._estimate_beside,
                            args=(first, estimated),
                            name="myostream-orientation",
                            daemon=True,
                        )
                        estimating.start()
                if orient is None and estimated:
                    orient = estimated[0]
                if norm is not None:
                    y = norm.process(y)
                for w in windower.push(y, stamps, out_start, labels, lost):
                    if n_win == MAX_BATCH:  # keep the newest MAX_BATCH hops
                        windows[:-1] = windows[1:]
                        truths[:-1], meta[:-1] = truths[1:], meta[1:]
                        n_win -= 1
                        self._skipped += 1
                    windows[n_win] = w.data if orient is None else orient.apply(w.data)
                    truths[n_win] = w.label()
                    # the source counter of the window's last sample (proportionally, when resampled)
                    src = (
                        w.counter
                        if resampler is None
                        else seg_start + ((w.counter - out_start + 1) * (seg_end - seg_start) // max(1, len(y))) - 1
                    )
                    meta[n_win] = (src, w.timestamp)
                    n_win += 1
            if n_win == 0:
                continue
            t_model = time.perf_counter()
            with self._text_lock:
                names, text_mat = self._text_names, self._text_matrix
            ranked = self.ranker.rank(windows[:n_win], k=1)
            all_scores = _numpy(ranked.all_scores)
            attention = _numpy(ranked.attention) if ranked.attention is not None else None
            rms = _numpy(ranked.rms)
            text = _numpy(ranked.z) @ text_mat.T if names else None
            model_s = time.perf_counter() - t_model
            rule = self.rejection
            for i in range(n_win):
                scores = all_scores[i]
                if self.smoothing and smoothed is not None:
                    smoothed = self.smoothing * smoothed + (1.0 - self.smoothing) * scores
                else:
                    smoothed = scores.copy()
                confidence = None if rule is None else float(rule.confidence(smoothed))
                c, ts = meta[i]
                arrived = self._arrival_of(c, picked_up)
                ready = time.perf_counter()
                ranking = HopRanking(
                    timestamp=ts,
                    counter=c,
                    top=self._top(smoothed),
                    scores=smoothed.copy(),
                    rms=rms[i],
                    attention=attention[i] if attention is not None else np.zeros((0, rms.shape[1]), np.float32),
                    true_class=label_names[truths[i]] if 0 <= truths[i] < len(label_names) else None,
                    text_scores={n: float(text[i, j]) for j, n in enumerate(names)} if text is not None else {},
                    latency=Latency(
                        wait_ms=1e3 * (picked_up - arrived),
                        filter_ms=1e3 * filter_s,
                        model_ms=1e3 * model_s,
                        total_ms=1e3 * (ready - arrived),
                    ),
                    settling=(norm is not None and not norm.settled) or orient is None,
                    confident=rule is None or bool(rule.accept(smoothed)),
                    confidence=confidence,
                )
                self._deliver(ranking)

    def _estimate_beside(self, signal: np.ndarray, result: list[Orientation]) -> None:
        """:meth:`_estimate_orientation` on its own thread, its answer appended to ``result``; a
        failure is logged and leaves the band as worn (the stream goes on either way). Then, from
        the same windows, :meth:`_self_calibrate`."""
        ranker = self.ranker
        try:
            orientation, windows = self._estimate_orientation(signal)
        except Exception as exc:  # noqa: BLE001 - any failure of the estimate must not end the stream
            log.warning("Could not estimate how the band sits (%s); ranking it as worn.", exc)
            self.orientation = Orientation()
            result.append(self.orientation)
            return
        result.append(orientation)
        if self.self_calibrate is not None and ranker is not None:
            try:
                self._self_calibrate(self.self_calibrate, ranker, orientation.apply(windows))
            except Exception as exc:  # noqa: BLE001 - the model as trained goes on ranking
                if not self._stop.is_set():  # stopping ends a self-calibration with an exception
                    log.warning("Could not self-calibrate to the wearer (%s); ranking with the model as trained.", exc)

    def _estimate_orientation(self, signal: np.ndarray) -> tuple[Orientation, np.ndarray]:
        """How the band sits, from ``signal [n, C]``: the wearer's first filtered seconds after their
        level settled, treated as the offline evaluation treats a wearing's first seconds (the rule
        it validated): scaled by their own level (the offline statistic), windows at the hop.
        Returns the orientation and those windows (as worn).

        Not the running level: it settles on the first seconds of movement (often one gesture, whose
        channel pattern is not the wearer's) and moves slowly from there, so windows scaled by it
        as they came misled the estimate (a Myo wearer's band read as turned and mirrored)."""
        pre = self.preprocessing
        if pre is None:  # the worker runs only with a model, which brings its preprocessing
            raise MyostreamError("The orientation is estimated only for a pipeline with a model.")
        level = user_scale(signal, self.model_rate, pre.normalisation)
        scaled = (signal / level).astype(np.float32)
        cut = Windower(self._window, self._hop, scaled.shape[1])
        windows = np.stack([w.data.copy() for w in cut.push(scaled, np.zeros(len(scaled)), 0)])
        self.orientation, self.orientation_evidence = estimate_orientation(
            self.ranker, windows, level, pre.ring_profile
        )
        return self.orientation, windows

    def _self_calibrate(self, calibrate: SelfCalibrate, ranker: Ranker, windows: np.ndarray) -> None:
        """``calibrate``'s model for the wearer's first windows (oriented) takes over between two
        hops, unless another model was given meanwhile."""
        own = calibrate(ranker, windows, self._stop)
        if own is None:
            return
        if hasattr(own, "to"):
            own.to(self.device)
        self._warm_up(own)
        record = dict(getattr(own, "metadata", {}).get("self_calibration", {}))
        with self._swap_lock:
            if self.ranker is not ranker or self._next_ranker is not None or self._stop.is_set():
                return  # another model was chosen meanwhile: it stays
            self._next_ranker = own
            self.self_calibration = record
        self._new_data.set()
        log.info("Self-calibrated to the wearer from their first %g s, no labels: %s.", ESTIMATE_SECONDS, record)

    def _segments(self, start: int, end: int, lost: int) -> list[tuple[int, int, int]]:
        """Split ``[start, end)`` at the source's gaps: (segment start, end, samples lost before it)."""
        segments = []
        while self._gaps and self._gaps[0][0] < start:
            lost += self._gaps.popleft()[1]
        pos = start
        while self._gaps and self._gaps[0][0] < end:
            at, missing = self._gaps.popleft()
            if at > pos:
                segments.append((pos, at, lost))
                pos, lost = at, 0
            lost += missing
        segments.append((pos, end, lost))
        return segments

    def _arrival_of(self, counter: int, default: float) -> float:
        """Wall time the chunk holding sample ``counter`` was read (chunks arrive in counter order)."""
        arrivals = self._arrivals
        while arrivals and arrivals[0][0] <= counter:
            arrivals.popleft()
        return arrivals[0][1] if arrivals else default

    def _top(self, scores: np.ndarray) -> list[RankedClass]:
        k = min(self.top_k, len(scores))
        idx = np.argpartition(-scores, k - 1)[:k]
        idx = idx[np.argsort(-scores[idx], kind="stable")]
        return [RankedClass(self.class_ids[i], self._labels[i], float(scores[i])) for i in idx]

    def _deliver(self, ranking: HopRanking) -> None:
        self._rankings += 1
        self._latencies.add(ranking.latency.total_ms)
        self.queue.put(ranking)
        if self._outlet is not None:
            self._outlet.push(ranking.to_json(), timestamp=ranking.timestamp)
        if self.on_ranking is not None:
            self.on_ranking(ranking)


def same_preparation(a: Preprocessing, b: Preprocessing) -> bool:
    """Whether two models take the same signal prepared the same way (rate, channels, window,
    filter, per-user normalisation, ring), so one can take over from the other mid-stream. The
    starting level (``prior_scale``) may differ: the live level already follows the wearer."""
    keys = ("rate", "n_channels", "window_ms", "filter", "normalisation", "ring")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


def mapped_channel_count(info: StreamInfo, channels: Sequence[int] | None) -> int:
    """How many channels a model sees of ``info``'s stream through the channel map ``channels``
    (None: all of them); an index the source does not have is one sentence naming its channel count."""
    if channels is None:
        return info.n_channels
    bad = [c for c in channels if not 0 <= c < info.n_channels]
    if bad:
        raise MyostreamError(
            f"Channel {bad[0]} of the channel map {list(channels)} is not a channel of source {info.name!r}, which "
            f"has {info.n_channels} channels (numbered 0..{info.n_channels - 1}); give --channels within that range."
        )
    return len(channels)


class PipelineTap:
    """A started pipeline's raw stream as a :class:`Source`: every sample the pipeline reads from the
    device from :meth:`open` on, with its true labels (what a session recorder records while the
    pipeline goes on ranking). Samples the source itself lost are not marked (the tap sees the ring);
    a tap that falls more than the ring's length behind reports the overwritten samples as ``lost``.
    A pipeline with a channel map taps the mapped channels: a calibration records what the model sees."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self._counter: int | None = None

    @property
    def info(self) -> StreamInfo:
        info, channels = self.pipeline.info, self.pipeline.channels
        if info is None:
            raise MyostreamError("The pipeline has not started; start it before tapping its stream.")
        if channels is None:
            return info
        return replace(info, channel_names=tuple(info.channel_names[c] for c in channels))

    def open(self) -> None:
        ring = self.pipeline.ring
        if ring is None:
            raise MyostreamError("The pipeline has not started; start it before tapping its stream.")
        self._counter = ring.count

    def read(self, timeout: float = 0.0) -> Chunk:
        ring, counter = self.pipeline.ring, self._counter
        if ring is None or counter is None:
            raise MyostreamError("The tap is not open; call open() first.")
        deadline = time.monotonic() + timeout
        while True:
            error = self.pipeline.error
            if error is not None:
                said = str(error) if isinstance(error, MyostreamError) else f"The stream stopped: {error!r}"
                raise MyostreamError(said)
            if not self.pipeline.running:
                raise MyostreamError("The stream was stopped.")
            span = ring.since(counter)
            if len(span) or span.lost or time.monotonic() >= deadline:
                break
            time.sleep(0.005)
        self._counter = span.end
        data = span.data if self.pipeline.channels is None else span.data[:, self.pipeline.channels]
        return Chunk(data, span.timestamps, span.labels, lost=span.lost)

    def close(self) -> None:
        self._counter = None


def _ranker_device(ranker: Ranker, device: str) -> str:
    """Where ``ranker`` runs: the torch device for a torch model (torch is imported only for one, so a
    torch-free ranker such as the ONNX one keeps the pipeline free of torch), else the ranker's own."""
    torch = sys.modules.get("torch")  # a torch model means torch is imported already
    if torch is not None and isinstance(ranker, torch.nn.Module):
        from myostream.torchdevice import resolve_device

        return str(resolve_device(device))
    own = str(getattr(ranker, "device", "cpu"))
    if device not in ("auto", own):
        raise MyostreamError(
            f"Model {ranker.config.name!r} runs on {own} ({type(ranker).__name__}); the device {device!r} "
            "applies to torch models only: leave it at auto."
        )
    return own


def _numpy(x: Any) -> np.ndarray:
    """A float32 numpy array from a (CPU or GPU) tensor or array."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, np.float32)
