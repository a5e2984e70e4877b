"""The content-addressed stage cache: keys, atomic entries, LRU eviction under a size limit."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from app.engine.cache import StageCache, cache_key


def _writer(size: int, name: str = "data.bin") -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        (folder / name).write_bytes(b"x" * size)

    return write


def test_keys_depend_on_content_not_on_key_order() -> None:
    a = cache_key("act", {"seed": 1, "prompt": "dawn"})
    assert a == cache_key("act", {"prompt": "dawn", "seed": 1})
    assert a != cache_key("act", {"prompt": "dawn", "seed": 2})
    assert a != cache_key("slate", {"prompt": "dawn", "seed": 1})


def test_put_then_get_and_counts(tmp_path: Path) -> None:
    cache = StageCache(tmp_path)
    key = cache_key("t", {"n": 1})
    assert cache.get(key) is None
    folder = cache.put(key, _writer(10))
    assert cache.get(key) == folder
    assert (folder / "data.bin").read_bytes() == b"x" * 10
    assert (cache.hits, cache.misses) == (1, 1)
    assert cache.size_bytes == 10


def test_failed_writer_publishes_nothing(tmp_path: Path) -> None:
    cache = StageCache(tmp_path)
    key = cache_key("t", {"n": 2})

    def broken(folder: Path) -> None:
        (folder / "half").write_bytes(b"partial")
        raise RuntimeError("backend crashed")

    with pytest.raises(RuntimeError):
        cache.put(key, broken)
    assert cache.get(key) is None
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and not p.name.startswith("index.sqlite")]
    assert leftovers == []


def test_least_recently_used_entries_are_evicted_first(tmp_path: Path) -> None:
    cache = StageCache(tmp_path, limit_bytes=250)
    keys = [cache_key("t", {"n": n}) for n in range(3)]
    for key in keys:
        cache.put(key, _writer(100))
        time.sleep(0.01)
    # Three 100-byte entries do not fit in 250: the oldest went when the third arrived.
    assert cache.get(keys[0]) is None
    assert cache.get(keys[1]) is not None  # now the most recently used
    time.sleep(0.01)
    cache.put(cache_key("t", {"n": 3}), _writer(100))
    assert cache.get(keys[2]) is None  # least recently used of the remaining
    assert cache.get(keys[1]) is not None
    assert cache.size_bytes <= 250


def test_index_survives_reopening(tmp_path: Path) -> None:
    key = cache_key("t", {"n": 5})
    StageCache(tmp_path).put(key, _writer(42))
    reopened = StageCache(tmp_path)
    assert reopened.get(key) is not None
    assert reopened.size_bytes == 42


def test_two_caches_on_one_folder_never_wait_for_each_other(tmp_path: Path) -> None:
    first, second = StageCache(tmp_path), StageCache(tmp_path)
    assert first.get(cache_key("t", {"n": 1})) is None  # a miss must not leave a transaction open
    started = time.perf_counter()
    second.put(cache_key("t", {"n": 2}), _writer(5))
    assert time.perf_counter() - started < 5.0
    assert first.get(cache_key("t", {"n": 2})) is not None
