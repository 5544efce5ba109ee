"""Attribution classifier and style distance on cases whose answer is known.

    /work/main/.venv/bin/pytest -q tests/evaluate/test_style.py
"""
from __future__ import annotations

import random

import pytest

from selfclone.errors import DataError
from selfclone.evaluate.compare import person_and_others
from selfclone.evaluate.style import (AttributionClassifier, generic_assistant_replies, ks_statistic, style_distance,
                                      style_features)


def test_style_features_measure_length_punctuation_emoji_and_casing():
    f = style_features("OK!! see you soon 😀")
    assert f["length"] == 5
    assert f["punctuation"] == pytest.approx(2 / len("OK!! see you soon 😀"))
    assert f["emoji"] > 0
    assert f["casing"] == pytest.approx(2 / 12)
    assert style_features("") == {"length": 0.0, "punctuation": 0.0, "emoji": 0.0, "casing": 0.0}


def test_ks_statistic_is_zero_for_the_same_sample_and_one_for_disjoint_samples():
    assert ks_statistic([1, 2, 3], [3, 2, 1]) == 0
    assert ks_statistic([1, 2, 3], [10, 11]) == 1
    assert 0 < ks_statistic([1, 2, 3, 4], [3, 4, 5, 6]) < 1


def test_style_distance_of_a_set_to_itself_is_zero_and_to_very_different_text_large(demo_heldout):
    real = [e.reply() for e in demo_heldout]
    assert style_distance(real, real)["style_distance"] == 0
    shouty = ["WHAT A WONDERFUL QUESTION!!! 😀😀 I AM SO HAPPY TO HELP YOU WITH THAT TODAY, FRIEND!!! 🎉"] * 10
    far = style_distance(shouty, real)
    assert far["style_distance"] > 0.7
    assert far["casing"] == 1 and far["emoji"] > 0.9
    # a shuffled copy of the same replies keeps the distributions: still zero
    assert style_distance(random.Random(0).sample(real, len(real)), real)["style_distance"] == 0


@pytest.fixture(scope="module")
def classifier(demo_train):
    person, others = person_and_others(demo_train)
    return AttributionClassifier.fit(person, others, generic_assistant_replies())


def test_classifier_attributes_the_persons_real_heldout_replies_far_above_chance(classifier, demo_heldout):
    real = [e.reply() for e in demo_heldout]
    assert classifier.attribution_rate(real) > 0.8           # chance among three classes is 1/3


def test_classifier_does_not_attribute_other_people_or_a_generic_assistant(classifier, demo_heldout):
    others = [t.content for e in demo_heldout for t in e.messages if t.role == "user"]
    assert classifier.attribution_rate(others) < 0.2
    assistant = ["I'd be happy to help! Here are some general tips you might find useful for your situation.",
                 "As an AI language model, I don't have personal experiences, but many people enjoy gardening.",
                 "Great question! The answer depends on several factors, including your budget and preferences."]
    assert classifier.attribution_rate(assistant) == 0
    assert classifier.predict(["", "   "]) == ["others", "others"]       # blank replies are never the person


def test_classifier_needs_enough_data():
    with pytest.raises(DataError, match="at least 5 of the person's replies"):
        AttributionClassifier.fit(["aye"], ["hello?"] * 10, generic_assistant_replies())
    with pytest.raises(DataError, match="messages from other people"):
        AttributionClassifier.fit(["aye"] * 10, [], generic_assistant_replies())
