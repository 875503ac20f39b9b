"""Fusion arithmetic and the confidence model."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge.fusion import (
    ConfidenceFeatures,
    ConfidenceModel,
    FusionConfig,
    fuse_scores,
    lexical_share,
    normalise_by_max,
    ranked_features,
    reciprocal_rank_fusion,
)


def test_lexical_share_grows_with_query_length_up_to_the_weight() -> None:
    config = FusionConfig(lexical_weight=0.2, lexical_saturation_tokens=20)
    assert lexical_share(0, config) == 0.0
    assert lexical_share(10, config) == pytest.approx(0.1)
    assert lexical_share(400, config) == pytest.approx(0.2)
    assert lexical_share(3, FusionConfig(0.2, 0)) == pytest.approx(0.2)


def test_fuse_normalises_lexical_scores_per_query() -> None:
    dense = np.asarray([0.5, 0.4], dtype=np.float32)
    lexical = np.asarray([2.0, 10.0], dtype=np.float32)
    assert np.allclose(fuse_scores(dense, lexical, 0.2), [0.54, 0.6])
    assert normalise_by_max(np.zeros(3, dtype=np.float32)).tolist() == [0.0, 0.0, 0.0]


def test_rrf_rewards_agreement() -> None:
    fused = reciprocal_rank_fusion(
        [np.asarray([3.0, 2.0, 1.0], np.float32), np.asarray([1.0, 3.0, 2.0], np.float32)]
    )
    assert int(np.argmax(fused)) == 1 or fused[0] == fused[1]
    with pytest.raises(ValueError, match="nothing"):
        reciprocal_rank_fusion([])


def test_ranked_features() -> None:
    features = ranked_features(np.asarray([0.9, 0.5, 0.3, 0.2], np.float32), 2)
    assert features[0].score == pytest.approx(0.9)
    assert features[0].behind_best == 0.0
    assert features[0].lead == pytest.approx(0.5)
    assert features[1].behind_best == pytest.approx(0.4)
    assert ranked_features(np.asarray([0.7], np.float32), 5)[0].lead == pytest.approx(0.7)
    assert ranked_features(np.zeros(0, np.float32), 5) == []
    assert ConfidenceFeatures.from_dict(features[1].to_dict()) == features[1]


def test_confidence_rises_with_score_and_lead_and_stays_in_range() -> None:
    model = ConfidenceModel()
    low = model.probability(ConfidenceFeatures(0.4, 0.0, 0.01))
    high = model.probability(ConfidenceFeatures(0.8, 0.0, 0.2))
    assert 0.0 <= low < high <= 1.0
    extreme = ConfidenceModel(intercept=1e6).probability(ConfidenceFeatures(0, 0, 0))
    assert extreme == 1.0
    assert ConfidenceModel(intercept=-1e6).probability(ConfidenceFeatures(0, 0, 0)) == 0.0


def test_fit_learns_the_direction_of_the_evidence() -> None:
    rng = np.random.default_rng(5)
    features, labels = [], []
    for _ in range(400):
        lead = float(rng.uniform(0, 0.3))
        features.append(ConfidenceFeatures(0.5 + lead, 0.0, lead))
        labels.append(bool(rng.uniform() < lead / 0.3))
    model = ConfidenceModel.fit(features, labels, regularisation=10.0)
    assert model.lead_weight > 0
    assert model.probability(features[0]) == pytest.approx(
        ConfidenceModel(
            model.intercept, model.score_weight, model.behind_best_weight, model.lead_weight
        ).probability(features[0])
    )
    with pytest.raises(ValueError, match="both"):
        ConfidenceModel.fit(features[:3], [True, True, True])
