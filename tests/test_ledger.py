"""explorer.core.ledger: one count of what user work holds, against one budget (issue 24)."""

from __future__ import annotations

import gc
import threading
import time

import pytest

from explorer.core import ledger as L
from explorer.core.errors import BudgetError
from explorer.core.units import GiB, MiB
from explorer.inside import activations as A
from explorer.labs.digits import sample_photo
from explorer.weights import loading as weights
from explorer.weights.model_cache import ModelCache, model_bytes


def test_the_budget_comes_from_the_administrator_or_the_machine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(L.BUDGET_ENV, "6GiB")
    assert L.default_budget() == 6 * GiB
    monkeypatch.setenv(L.BUDGET_ENV, "800 MiB")
    assert L.default_budget() == 800 * MiB
    monkeypatch.setenv(L.BUDGET_ENV, "1.5gb")
    assert L.default_budget() == 1_500_000_000
    for nonsense in ("", "lots", "-3GiB", "1e400", "9" * 40):
        monkeypatch.setenv(L.BUDGET_ENV, nonsense)
        assert L.default_budget() == max(GiB, L.machine_bytes() // 2)


def test_concurrent_work_counts_against_each_other_and_waits_its_turn() -> None:
    ledger = L.Ledger(budget=100, wait_s=5.0)
    first = ledger.reserve(70, "the first student's work")
    got: list[float] = []

    def second() -> None:
        start = time.monotonic()
        with ledger.reserve(50, "the second student's work"):
            got.append(time.monotonic() - start)

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.4)
    assert got == [] and ledger.held == 70  # it waits: 70 + 50 would pass 100
    first.release()
    first.release()  # twice is once
    thread.join()
    assert got and got[0] >= 0.3 and ledger.held == 0
    with pytest.raises(BudgetError, match=r"needs 101 bytes; this server gives all work"):
        ledger.reserve(101, "a huge model")
    held = ledger.reserve(90, "work")
    with pytest.raises(BudgetError, match=r"The server is busy: other work holds 90 bytes"):
        ledger.reserve(20, "more work", wait_s=0.2)
    held.release()


def test_models_and_look_inside_recordings_hold_their_bytes_while_they_live() -> None:
    lenet = model_bytes(weights.load("lenet5", "random", device="cpu").model)
    ledger = L.Ledger(budget=10 * lenet, wait_s=0.2)
    cache = ModelCache(budget=2 * lenet, ledger=ledger)
    loaded = cache.get("lenet5-digits", "DEFAULT", "cpu")
    assert ledger.held == lenet
    cache.get("lenet5-digits-seed1", "DEFAULT", "cpu")
    cache.get("lenet5-digits-seed2", "DEFAULT", "cpu")  # evicts seed1 (nobody uses it)
    gc.collect()
    assert ledger.held == 2 * lenet  # the evicted one's bytes came back when it was freed

    _, values = A.check_budget(loaded)
    before = L.LEDGER.held
    recorded = A.record(loaded, sample_photo(0)[0])
    assert L.LEDGER.held == before + 4 * values  # the recording's values, while it lives
    del recorded
    gc.collect()
    assert L.LEDGER.held == before


def test_decoded_pictures_hold_their_pixels_while_they_live() -> None:
    """The ledger counted models, recordings and uploads; a decoded picture (a 40-megapixel
    upload is 120 MB of pixels) was not. Its pixels are reserved before they are decoded."""
    import io

    from PIL import Image

    from explorer.core.images import decode_image

    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 20, 30)).save(buffer, format="PNG")
    gc.collect()
    before = L.LEDGER.held
    picture = decode_image(buffer.getvalue())
    assert L.LEDGER.held == before + 300 * 200 * 3
    thumb = decode_image(buffer.getvalue(), mode="L", max_side=50)
    assert L.LEDGER.held == before + 300 * 200 * 3 + 50 * 50
    del picture, thumb
    gc.collect()
    assert L.LEDGER.held == before


def test_finished_results_kept_for_reuse_hold_their_bytes_until_forgotten() -> None:
    from explorer.serving.jobs import JobRunner, countdown

    before = L.LEDGER.held
    runner = JobRunner(1, keep_finished=1)
    try:
        first = runner.submit("a", countdown, 0.1)
        assert first.wait(60) and first.nbytes > 0
        assert L.LEDGER.held == before + first.nbytes  # kept for the next visitor
        second = runner.submit("b", countdown, 0.1)
        assert second.wait(60)
        assert L.LEDGER.held == before + second.nbytes  # the first was forgotten: released
    finally:
        runner.shutdown()


def test_a_class_activation_map_reserves_its_activations_and_gradients_while_it_runs() -> None:
    from explorer.inside import cam
    from explorer.labs.preprocessing import preprocessor_for

    loaded = weights.load("lenet5", "lenet5-digits", device="cpu")
    batch = preprocessor_for(loaded).single(sample_photo(0)[0])[None]
    _, values = A.check_budget(loaded)
    gc.collect()
    before = L.LEDGER.held
    seen: list[int] = []

    def progress(done: int, total: int, what: str = "") -> bool:
        seen.append(L.LEDGER.held)
        return True

    cam.class_maps(loaded, batch, method="gradcam", progress=progress)
    assert seen and min(seen) >= before + 4 * values * 2  # activations and their gradients
    assert L.LEDGER.held == before
