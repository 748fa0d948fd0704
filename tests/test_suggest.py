"""Typo distances: Chinese by characters and by sound, and pinyin typed in letters."""

from __future__ import annotations

from wanflow.suggest import chinese_distance, is_near_miss, latin_distance, reads_as


def test_distances() -> None:
    assert chinese_distance("全境", "全景") == 0.25
    assert chinese_distance("高心", "高兴") == 0.5
    assert chinese_distance("全景", "中景") == 1.0
    assert chinese_distance("过肩", "过肩角度") == 2.0
    assert latin_distance("angre", "anger") == 1
    assert latin_distance("closup", "close up") == 2
    assert reads_as("quanjing", "全景") and reads_as("changjiao", "长焦") and reads_as("zhangjiao", "长焦")
    assert not reads_as("quan", "全景") and not reads_as("", "全景") and not reads_as("close", "close")
    assert is_near_miss("恐俱", "恐惧") and not is_near_miss("恐惧", "恐惧") and not is_near_miss("fear", "恐惧")
