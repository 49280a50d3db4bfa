"""ecgdl.adapt_consensus: the evidence-accumulation partition of several k-means draws (AdaptConfig.consensus)."""
import numpy as np

from ecgdl.adapt import AdaptConfig, kmeans, partition
from ecgdl.adapt_consensus import consensus_partition


def _same_partition(a, b):
    """True when two labelings group the beats the same way (ids may differ)."""
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_draws_that_agree_give_their_partition_back():
    lab = np.repeat([3, 0, 2, 1], [5, 7, 2, 6])
    perm = np.array([1, 2, 3, 0])[lab]  # the same clustering, other ids
    out = consensus_partition(np.stack([lab, perm, lab], 1), 4)
    assert _same_partition(out, lab) and out[0] == 0


def test_label_ids_do_not_matter_and_the_result_is_deterministic():
    rng = np.random.default_rng(0)
    draws = rng.integers(0, 6, (200, 5))
    out = consensus_partition(draws, 6)
    renamed = np.stack([np.roll(np.arange(6), j + 1)[draws[:, j]] for j in range(5)], 1)
    assert _same_partition(out, consensus_partition(renamed, 6))
    assert np.array_equal(out, consensus_partition(draws, 6))
    assert len(np.unique(out)) == 6


def test_a_beat_one_draw_misplaces_stays_with_its_group():
    """Three groups; one draw puts beat 0 in group B: the majority keeps it in A."""
    lab = np.repeat([0, 1, 2], 20)
    odd = lab.copy()
    odd[0] = 1
    out = consensus_partition(np.stack([lab, lab, odd, lab, lab], 1), 3)
    assert _same_partition(out, lab)


def test_consensus_partition_of_separated_clusters_is_those_clusters():
    rng = np.random.default_rng(3)
    truth = np.repeat(np.arange(5), 60)
    v = (rng.normal(0, 0.3, (300, 4)) + 2.0 * truth[:, None]).astype(np.float32)
    lab, cent = partition(v, AdaptConfig(n_clusters=5, consensus=5))
    assert _same_partition(lab, truth)
    assert np.allclose(cent[lab[0]], v[truth == 0].mean(0), atol=1e-5)
    assert np.array_equal(partition(v, AdaptConfig(n_clusters=5))[0], kmeans(v, 5, 0, 15)[0])  # consensus 1: k-means


def test_consensus_is_in_the_sidecar_only_when_set():
    assert "consensus" not in AdaptConfig().to_dict()
    assert AdaptConfig.from_dict(AdaptConfig(consensus=5).to_dict()).consensus == 5
    assert AdaptConfig.from_dict(AdaptConfig().to_dict()).consensus == 1
