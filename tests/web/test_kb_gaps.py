"""The knowledge gaps' clustering with the real model: rephrasings of one problem fall into one
group, unrelated problems stay apart, at the default cut (decision 0143)."""

from __future__ import annotations

import numpy as np
import pytest

from deskmail.knowledge_gaps import DEFAULT_CLUSTER_DISTANCE, cluster_vectors
from tests.deskmail.kb_support import shared_encoder

pytestmark = pytest.mark.model

TICKETS = [
    ("coffee", "Coffee machine error E42\nThe machine in the 2nd floor kitchen shows E42."),
    ("coffee", "coffee machine on floor 2 broken\nError E42 on the coffee maker again."),
    ("coffee", "Kitchen coffee maker not working\nThe machine on level 2 displays E42."),
    ("badge", "Badge does not open gate B\nThe reader at the gate B turnstile blinks red."),
    ("badge", "turnstile rejects my card\nThe access card reader at the entrance blinks red."),
    ("camera", "Teams camera is black\nIn Teams meetings my camera shows a black picture."),
    ("camera", "webcam not working in Teams\nOthers see a black square instead of my video."),
    ("visio", "Need Visio licence\nPlease install Microsoft Visio, my manager approved it."),
    ("printer", "Printer on floor 3 prints blank pages\nThe HP printer prints empty pages."),
    ("vpn", "VPN disconnects every hour\nThe VPN drops every 60 minutes when I work from home."),
]


def test_rephrasings_cluster_and_unrelated_problems_stay_apart() -> None:
    vectors = np.asarray(shared_encoder().encode([text for _, text in TICKETS]), dtype=np.float32)
    groups = cluster_vectors(vectors, DEFAULT_CLUSTER_DISTANCE)
    topics = sorted(sorted({TICKETS[i][0] for i in group}) for group in groups)
    assert topics == [["badge"], ["camera"], ["coffee"], ["printer"], ["visio"], ["vpn"]]
    sizes = sorted(len(group) for group in groups)
    assert sizes == [1, 1, 1, 2, 2, 3]
    # Each group starts with its medoid: the member closest to the others.
    coffee = next(group for group in groups if len(group) == 3)
    similarity = vectors[coffee] @ vectors[coffee].T
    assert coffee[0] == coffee[int(np.argmax(similarity.sum(axis=1)))]


def test_cluster_edge_cases() -> None:
    assert cluster_vectors(np.zeros((0, 4), dtype=np.float32), 0.5) == []
    assert cluster_vectors(np.eye(1, 4, dtype=np.float32), 0.5) == [[0]]
    apart = np.eye(3, dtype=np.float32)
    assert sorted(cluster_vectors(apart, DEFAULT_CLUSTER_DISTANCE)) == [[0], [1], [2]]
