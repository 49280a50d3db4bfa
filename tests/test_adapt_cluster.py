"""ecgdl.adapt_cluster: the evidence-accumulation partition of several k-means draws (AdaptConfig.consensus)."""
import numpy as np

from ecgdl.adapt import AdaptConfig, kmeans, partition
from ecgdl.adapt_cluster import consensus_partition


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


def test_soft_statistics_need_draws_and_round_trip():
    import pytest
    with pytest.raises(ValueError, match="consensus > 1"):
        AdaptConfig(soft=True)
    d = AdaptConfig(consensus=5, soft=True).to_dict()
    assert AdaptConfig.from_dict(d).soft and "soft" not in AdaptConfig(consensus=5).to_dict()


def test_soft_cluster_average_is_the_mean_of_the_draws_averages():
    from ecgdl.adapt import cluster_average
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(5), 40)
    a, b = rng.integers(0, 4, 40), rng.integers(0, 3, 40)
    soft = cluster_average(p, np.stack([a, b], 1))
    assert np.allclose(soft, (cluster_average(p, a) + cluster_average(p, b)) / 2)
    assert np.allclose(soft.sum(1), 1.0)
    assert np.allclose(cluster_average(p, np.stack([a, a], 1)), cluster_average(p, a))
