"""Contract tests of the TF-IDF features (`classifier.features`)."""

import numpy as np

from classifier.features import FeatureConfig, TextFeatures, clean_text


def test_training_matrix_is_what_transform_gives() -> None:
    texts = [
        clean_text(text)
        for text in (
            "VPN drops every few minutes from home, see https://vpn.example.org/status",
            "Printer on floor 3 jams; ticket 2026-11-27-0042 again",
            "please reset my password for payroll@example.org",
            "vpn certificate expired after the update",
            "toner empty in the printer by the kitchen",
            "password expired and the reset link fails",
        )
    ]
    features, matrix = TextFeatures.fit_transform(texts, FeatureConfig())
    assert matrix.shape == (len(texts), features.n_features)
    np.testing.assert_array_equal(matrix.toarray(), features.transform(texts).toarray())
    assert "weblink" in features.states[0].terms
    assert "longnumber" in features.states[0].terms


def test_texts_without_shared_terms_still_give_features() -> None:
    # Every term is in one text only: min_df=2 would prune them all; the fallback keeps them.
    texts = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    features, matrix = TextFeatures.fit_transform(texts, FeatureConfig())
    assert matrix.shape[0] == len(texts)
    assert matrix.nnz > 0
    assert "alpha" in features.states[0].terms
    np.testing.assert_array_equal(matrix.toarray(), features.transform(texts).toarray())
