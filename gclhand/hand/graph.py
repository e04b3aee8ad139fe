"""The coarsened mesh-graph hierarchy of the GCN decoder (DESIGN section 1.3, IntagHand).

The decoder runs Chebyshev graph convolutions on graphs of ``num_nodes = (63, 126, 252)``
nodes (coarse -> fine), upsampling 2:1 between levels, then maps the finest level to the 778
mesh vertices with a fixed linear map. The graphs are computed from whichever hand model is
loaded:

1. the mesh graph (778 vertices, edges of the faces, unit weights) is coarsened by
   heavy-edge matching (Graclus normalised-cut weight ``w_ij (1/d_i + 1/d_j)``, as in
   Defferrard et al., NeurIPS 2016) until it has at most ``num_nodes[-1]`` nodes (the last
   step only merges the heaviest pairs, to hit a target count);
2. two more matchings give the coarser levels; each coarse node has one or two children;
3. nodes are ordered as in Defferrard's ``compute_perm``: coarse node ``c`` owns fine
   positions ``2c`` and ``2c + 1``; a missing child is a *fake* node without edges. Pooling
   and upsampling are then a fixed 2:1 map (``upsample[l]``) with no index bookkeeping;
4. ``mesh_downsample`` averages the mesh vertices of each finest node and ``mesh_upsample``
   (rows sum to 1) is fitted by least squares, per vertex over the clusters of its 1-ring,
   to reproduce posed meshes of the hand model from their downsampled versions.

The finest decoder level's real-node target is the largest count for which the 2:1 levels
still fit in ``num_nodes``, so the coarse graphs use as many real nodes as possible.

Results are cached on disk keyed by the hand model's ``content_hash`` and ``num_nodes``.
"""
import os
import os.path as osp
import time
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from torch import Tensor
from torch_geometric.utils import coalesce, get_laplacian, to_undirected

GRAPH_VERSION = 1


def mesh_edges(faces: np.ndarray, num_nodes: int) -> Tuple[Tensor, Tensor]:
    """Undirected unit-weight edge list (both directions) of a triangle mesh."""
    f = torch.as_tensor(np.asarray(faces), dtype=torch.long)
    e = torch.cat([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]], 0).t()
    ei = to_undirected(e, num_nodes=num_nodes)
    return ei, torch.ones(ei.shape[1])


def heavy_edge_matching(edge_index: Tensor, edge_weight: Tensor, num_nodes: int,
                        max_pairs: Optional[int] = None) -> np.ndarray:
    """Graclus-style heavy-edge matching; returns the cluster id of each node (size 1 or 2).

    ``torch_geometric.nn.graclus`` needs ``torch-cluster`` (not installable here), and
    Defferrard's reference is a sequential Python loop, so this is a vectorised
    *locally dominant* matching instead: every unmatched node proposes to its unmatched
    neighbour with the largest normalised-cut weight ``w_ij (1/d_i + 1/d_j)`` (ties: smaller
    index), mutual proposals are matched, repeat. With that strict edge order the heaviest
    remaining edge is always mutual, so each round makes progress; the result is a maximal
    matching (a 1/2-approximation of the maximum-weight one), deterministic.

    Args:
        edge_index: (2, E) both directions. edge_weight: (E,). num_nodes: N.
        max_pairs: keep only this many heaviest pairs (to reach a target node count).

    Returns:
        (N,) int64 cluster ids in ``[0, N - pairs)``, numbered by the smaller member.
    """
    row, col = edge_index.numpy()
    w = edge_weight.double().numpy()
    keep = row != col
    row, col, w = row[keep], col[keep], w[keep]
    deg = np.bincount(row, weights=w, minlength=num_nodes)
    score = w * (1.0 / deg[row] + 1.0 / deg[col])
    mate = np.full(num_nodes, -1)
    mate_score = np.zeros(num_nodes)
    while True:
        valid = (mate[row] < 0) & (mate[col] < 0)
        if not valid.any():
            break
        r, c, s = row[valid], col[valid], score[valid]
        order = np.lexsort((c, -s, r))
        first = order[np.r_[True, r[order][1:] != r[order][:-1]]]
        best = np.full(num_nodes, -1)
        best[r[first]] = c[first]
        best_s = np.zeros(num_nodes)
        best_s[r[first]] = s[first]
        cand = np.nonzero(best >= 0)[0]
        mutual = cand[best[best[cand]] == cand]
        mate[mutual] = best[mutual]
        mate_score[mutual] = best_s[mutual]
    pairs = np.nonzero((mate >= 0) & (np.arange(num_nodes) < mate))[0]
    if max_pairs is not None and len(pairs) > max_pairs:
        order = np.lexsort((pairs, -mate_score[pairs]))
        drop = pairs[order[max_pairs:]]
        mate[mate[drop]] = -1
        mate[drop] = -1
    rep = np.where(mate >= 0, np.minimum(np.arange(num_nodes), mate), np.arange(num_nodes))
    _, cluster = np.unique(rep, return_inverse=True)
    return cluster.astype(np.int64)


def coarsen_graph(edge_index: Tensor, edge_weight: Tensor, cluster: np.ndarray,
                  num_clusters: int) -> Tuple[Tensor, Tensor]:
    """Quotient graph: coarse edge weight = sum of the fine weights between two clusters."""
    cl = torch.as_tensor(cluster)
    ei = cl[edge_index]
    keep = ei[0] != ei[1]
    return coalesce(ei[:, keep], edge_weight[keep], num_nodes=num_clusters, reduce='sum')


class GraphHierarchy:
    """Graphs of the decoder levels (coarse -> fine) and the maps between them.

    Attributes:
        num_nodes: ``[N_0, ..., N_L]`` nodes per level incl. fake nodes, ``N_{l+1} = 2 N_l``.
        edge_index, edge_weight: per level, symmetric, no self loops (fake nodes isolated).
        upsample: per level ``l < L``, ``(N_{l+1}, N_l)`` 0/1 copy matrix, one parent per row
            (row ``p`` has its 1 at column ``p // 2``); its transpose / 2 is average pooling.
        is_fake: per level, (N_l,) bool.
        mesh_upsample: ``(V, N_L)`` fixed linear map to the mesh, rows sum to 1.
        mesh_downsample: ``(N_L, V)`` average of the mesh vertices merged into each node
            (zero rows for fake nodes).
        lambda_max: per level, the largest eigenvalue of the normalised Laplacian.
        content_hash: the hand model's hash the hierarchy was built from.
        from_cache: whether it was loaded from the disk cache.
    """

    def __init__(self, num_nodes: List[int], edge_index: List[Tensor], edge_weight: List[Tensor],
                 is_fake: List[Tensor], mesh_upsample: Tensor, mesh_downsample: Tensor,
                 lambda_max: List[float], content_hash: str = '', from_cache: bool = False):
        self.num_nodes = [int(n) for n in num_nodes]
        self.edge_index = edge_index
        self.edge_weight = edge_weight
        self.is_fake = is_fake
        self.mesh_upsample = mesh_upsample
        self.mesh_downsample = mesh_downsample
        self.lambda_max = [float(x) for x in lambda_max]
        self.content_hash = content_hash
        self.from_cache = from_cache
        self.upsample = [
            torch.eye(n).repeat_interleave(2, dim=0) for n in self.num_nodes[:-1]]

    @property
    def num_levels(self) -> int:
        return len(self.num_nodes)

    def laplacian(self, level: int) -> Tuple[Tensor, Tensor]:
        """Symmetric normalised Laplacian ``L = I - D^-1/2 A D^-1/2`` of a level."""
        return get_laplacian(self.edge_index[level], self.edge_weight[level],
                             normalization='sym', num_nodes=self.num_nodes[level])

    def scaled_laplacian(self, level: int) -> Tuple[Tensor, Tensor]:
        """``(edge_index, edge_weight)`` of ``2 L / lambda_max - I`` (spectrum in [-1, 1]),
        the operator of Chebyshev convolutions (Defferrard et al., eq. 5)."""
        ei, ew = self.laplacian(level)
        ew = 2.0 * ew / self.lambda_max[level]
        loops = torch.arange(self.num_nodes[level])
        ei = torch.cat([ei, torch.stack([loops, loops])], 1)
        ew = torch.cat([ew, -torch.ones(self.num_nodes[level])])
        return coalesce(ei, ew, num_nodes=self.num_nodes[level], reduce='sum')

    def dense_adjacency(self, level: int) -> Tensor:
        n = self.num_nodes[level]
        a = torch.zeros(n, n)
        a[self.edge_index[level][0], self.edge_index[level][1]] = self.edge_weight[level]
        return a

    def state(self) -> dict:
        return dict(num_nodes=self.num_nodes, edge_index=self.edge_index,
                    edge_weight=self.edge_weight, is_fake=self.is_fake,
                    mesh_upsample=self.mesh_upsample, mesh_downsample=self.mesh_downsample,
                    lambda_max=self.lambda_max, content_hash=self.content_hash)

    def __repr__(self) -> str:
        real = [int((~f).sum()) for f in self.is_fake]
        return (f'GraphHierarchy(num_nodes={self.num_nodes}, real={real}, '
                f'edges={[e.shape[1] // 2 for e in self.edge_index]}, '
                f'hash={self.content_hash}, from_cache={self.from_cache})')


def _pad_perm(parents: List[np.ndarray], counts: List[int], num_nodes: Sequence[int]):
    """Defferrard's ``compute_perm``: node order per level with fake nodes (id -1).

    ``parents[l]`` maps the real nodes of level ``l + 1`` to level ``l``; returns per level
    the real node id (or -1) at each position.
    """
    perm = [np.concatenate([np.arange(counts[0]), -np.ones(num_nodes[0] - counts[0], int)])]
    for lvl, par in enumerate(parents):
        children = [[] for _ in range(counts[lvl])]
        for child, p in enumerate(par):
            children[p].append(child)
        nxt = []
        for node in perm[-1]:
            kids = children[node] if node >= 0 else []
            nxt += kids + [-1] * (2 - len(kids))
        perm.append(np.array(nxt, dtype=np.int64))
    return perm


def _is_connected(edge_index: Tensor, nodes: np.ndarray) -> bool:
    """Whether ``nodes`` lie in one connected component of the (undirected) graph
    (:func:`scipy.sparse.csgraph.connected_components`)."""
    if len(nodes) == 0:
        return True
    ei = edge_index.numpy()
    n = int(max(ei.max(initial=-1), nodes.max())) + 1
    adjacency = coo_matrix((np.ones(ei.shape[1]), (ei[0], ei[1])), shape=(n, n))
    _, labels = connected_components(adjacency, directed=False)
    return len(np.unique(labels[nodes])) == 1


def _fit_mesh_upsample(hand_model, cluster: np.ndarray, faces: np.ndarray,
                       num_clusters: int, ridge: float = 1e-3, num_poses: int = 48) -> np.ndarray:
    """Least-squares ``(V, C)`` upsample with rows summing to 1 (see module docstring)."""
    g = torch.Generator().manual_seed(0)
    dims = hand_model.num_pca_comps if hand_model.use_pca else 45
    scale = 1.0 if hand_model.use_pca else 0.3
    with torch.no_grad():
        pose = torch.randn(num_poses, dims, generator=g) * scale
        pose[0] = 0
        verts = hand_model(side='right', hand_pose=pose).vertices.double().numpy()
    n = verts.shape[1]
    counts = np.bincount(cluster, minlength=num_clusters)
    down = np.zeros((num_clusters, n))
    down[cluster, np.arange(n)] = 1.0 / counts[cluster]
    centroids = np.einsum('cv,svd->scd', down, verts)  # (S, C, 3)
    nbrs = [set([v]) for v in range(n)]
    for a, b, c in faces:
        nbrs[a] |= {b, c}
        nbrs[b] |= {a, c}
        nbrs[c] |= {a, b}
    up = np.zeros((n, num_clusters))
    for v in range(n):
        sup = np.array(sorted({int(cluster[u]) for u in nbrs[v]}))
        prior = np.array([sum(cluster[u] == c for u in nbrs[v]) for c in sup], float)
        prior /= prior.sum()
        a = centroids[:, sup].transpose(0, 2, 1).reshape(-1, len(sup))  # (S*3, k)
        x = verts[:, v].reshape(-1)
        k = len(sup)
        kkt = np.zeros((k + 1, k + 1))
        kkt[:k, :k] = a.T @ a + ridge * np.trace(a.T @ a) / k * np.eye(k)
        kkt[:k, k] = kkt[k, :k] = 1.0
        rhs = np.concatenate([a.T @ x + ridge * np.trace(a.T @ a) / k * prior, [1.0]])
        up[v, sup] = np.linalg.solve(kkt, rhs)[:k]
    return up


def _build(hand_model, num_nodes: Sequence[int]) -> GraphHierarchy:
    faces = hand_model.faces('right').numpy()
    n_mesh = int(hand_model.template('right').shape[0])
    mesh_ei, mesh_ew = mesh_edges(faces, n_mesh)
    levels = len(num_nodes)
    for lvl in range(levels - 1):
        if num_nodes[lvl + 1] != 2 * num_nodes[lvl]:
            raise ValueError(f'num_nodes must double from level to level (2:1 pooling), got '
                             f'{list(num_nodes)}')
    # mesh -> at most num_nodes[-1] nodes with full matchings, keeping the last full level
    ei, ew, assign, count = mesh_ei, mesh_ew, np.arange(n_mesh), n_mesh
    while True:
        cl = heavy_edge_matching(ei, ew, count)
        new_count = int(cl.max()) + 1
        if new_count <= num_nodes[-1] or new_count == count:
            break
        ei, ew = coarsen_graph(ei, ew, cl, new_count)
        assign, count = cl[assign], new_count
    # largest target for the finest level whose 2:1 coarsenings fit the coarser levels
    for target in range(min(num_nodes[-1], count), num_nodes[0] - 1, -1):
        cl = heavy_edge_matching(ei, ew, count, max_pairs=count - target)
        fine_count = int(cl.max()) + 1
        graphs = [coarsen_graph(ei, ew, cl, fine_count)]
        counts, parents = [fine_count], []
        for lvl in range(levels - 2, -1, -1):
            gei, gew = graphs[0]
            par = heavy_edge_matching(gei, gew, counts[0])
            c = int(par.max()) + 1
            graphs.insert(0, coarsen_graph(gei, gew, par, c))
            counts.insert(0, c)
            parents.insert(0, par)
        if all(c <= n for c, n in zip(counts, num_nodes)):
            break
    else:
        raise RuntimeError(f'cannot fit the mesh graph into num_nodes={list(num_nodes)}')
    mesh_cluster = cl[assign]
    perm = _pad_perm(parents, counts, num_nodes)
    edge_index, edge_weight, is_fake, lambda_max = [], [], [], []
    for lvl in range(levels):
        pos = np.full(counts[lvl], -1)
        real = perm[lvl] >= 0
        pos[perm[lvl][real]] = np.nonzero(real)[0]
        gei, gew = graphs[lvl]
        gei = torch.as_tensor(pos)[gei]
        gei, gew = coalesce(gei, gew.float(), num_nodes=num_nodes[lvl])
        if not _is_connected(gei, np.nonzero(real)[0]):
            raise RuntimeError(f'coarse graph level {lvl} is not connected')
        edge_index.append(gei)
        edge_weight.append(gew)
        is_fake.append(torch.as_tensor(~real))
        lei, lew = get_laplacian(gei, gew, normalization='sym', num_nodes=num_nodes[lvl])
        lap = torch.zeros(num_nodes[lvl], num_nodes[lvl], dtype=torch.float64)
        lap[lei[0], lei[1]] = lew.double()
        lambda_max.append(float(torch.linalg.eigvalsh(lap).max()))
    # mesh maps, in the finest level's positions
    pos = np.full(counts[-1], -1)
    real = perm[-1] >= 0
    pos[perm[-1][real]] = np.nonzero(real)[0]
    node_of_vertex = pos[mesh_cluster]
    up = _fit_mesh_upsample(hand_model, node_of_vertex, faces, num_nodes[-1])
    sizes = np.bincount(node_of_vertex, minlength=num_nodes[-1])
    down = np.zeros((num_nodes[-1], n_mesh))
    down[node_of_vertex, np.arange(n_mesh)] = 1.0 / sizes[node_of_vertex]
    return GraphHierarchy(list(num_nodes), edge_index, edge_weight, is_fake,
                          torch.as_tensor(up, dtype=torch.float32),
                          torch.as_tensor(down, dtype=torch.float32), lambda_max,
                          content_hash=hand_model.content_hash)


def build_graph_hierarchy(hand_model, num_nodes: Sequence[int] = (63, 126, 252),
                          cache_dir: Optional[str] = None) -> GraphHierarchy:
    """The decoder's graph hierarchy for ``hand_model``, cached on disk.

    Args:
        hand_model: a built hand model (``MANOHandModel``) or its config dict.
        num_nodes: nodes per decoder level, coarse -> fine, each twice the previous.
        cache_dir: cache root (default ``$GCLHAND_CACHE`` or ``~/.cache/gclhand``); the file
            is ``graphs/hierarchy_{content_hash}_{nodes}_v{GRAPH_VERSION}.pt``.
    """
    from .hand_model import build_hand_model, default_cache_dir
    if isinstance(hand_model, dict):
        hand_model = build_hand_model(hand_model)
    num_nodes = [int(n) for n in num_nodes]
    root = osp.join(cache_dir or default_cache_dir(), 'graphs')
    name = f"hierarchy_{hand_model.content_hash}_{'-'.join(map(str, num_nodes))}" \
           f'_v{GRAPH_VERSION}.pt'
    path = osp.join(root, name)
    if osp.isfile(path):
        state = torch.load(path, weights_only=True)
        return GraphHierarchy(**state, from_cache=True)
    gh = _build(hand_model, num_nodes)
    os.makedirs(root, exist_ok=True)
    tmp = f'{path}.tmp{os.getpid()}.{time.time_ns()}'
    torch.save(gh.state(), tmp)
    os.replace(tmp, path)
    return gh
