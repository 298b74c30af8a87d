"""The collector settings the package's tasks apply when built (moloch_eval.garbage_collection)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from moloch_eval.garbage_collection import CPYTHON_DEFAULT, ENV, TUNED, tune_collector


@pytest.fixture
def fresh_collector() -> Iterator[None]:
    """CPython's defaults during the test; the process's own settings after it."""
    saved = gc.get_threshold()
    gc.unfreeze()
    gc.set_threshold(*CPYTHON_DEFAULT)
    yield
    gc.unfreeze()
    gc.set_threshold(*saved)


def test_defaults_are_tuned_and_the_heap_frozen(fresh_collector: None) -> None:
    assert gc.get_freeze_count() == 0
    assert tune_collector() is True
    assert gc.get_threshold() == TUNED
    assert gc.get_freeze_count() > 0
    assert tune_collector() is False  # once: the thresholds are no longer the defaults


def test_a_users_own_thresholds_are_kept(fresh_collector: None) -> None:
    gc.set_threshold(1234, 5, 6)
    assert tune_collector() is False
    assert gc.get_threshold() == (1234, 5, 6)
    assert gc.get_freeze_count() == 0


def test_opt_out(fresh_collector: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "default")
    assert tune_collector() is False
    assert gc.get_threshold() == CPYTHON_DEFAULT
    assert gc.get_freeze_count() == 0


def test_a_bad_setting_says_what_to_use(
    fresh_collector: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, "off")
    with pytest.raises(ValueError, match=r"MOLOCH_EVAL_GC must be one of \('tuned', 'default'\)"):
        tune_collector()
    assert gc.get_threshold() == CPYTHON_DEFAULT


@pytest.mark.parametrize("name", ["sales", "em_factual"])
def test_building_a_task_tunes_the_collector(fresh_collector: None, name: str) -> None:
    import moloch_eval.tasks as tasks

    getattr(tasks, name)()
    assert gc.get_threshold() == TUNED
    assert gc.get_freeze_count() > 0


def test_a_bad_setting_stops_the_task_build_naming_both(
    fresh_collector: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moloch_eval.tasks import sales
    from moloch_eval.tasks.arguments import TaskArgumentError

    monkeypatch.setenv(ENV, "off")
    with pytest.raises(TaskArgumentError, match=r"moloch_eval/sales: MOLOCH_EVAL_GC must be"):
        sales()
    assert gc.get_threshold() == CPYTHON_DEFAULT
