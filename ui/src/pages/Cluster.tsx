// The cluster: nodes and their state, digest partitions with primaries, ingest lag and the
// queue bytes their open buffers pin, segment counts and sizes, bucket upload backlog.
// Refreshes every 5 s.
import { useEffect, useState } from "preact/hooks";
import { gql } from "../api";
import { formatBytes, formatCount } from "../lib/format";

interface ClusterInfo {
  nodes: { id: number; uri: string; zone: string | null; state: string; isAvailable: boolean; isThisNode: boolean; segmentCount: number; segmentBytes: number; primaryPartitions: number[] }[];
  ingestPartitions: { id: number; nodeIds: number[]; safeOffset: number; endOffset: number | null; lag: number | null; pinnedQueueBytes: number | null }[];
  segmentCount: number;
  segmentBytes: number;
  bucket: string | null;
  bucketUploadBacklog: { segments: number; bytes: number };
  replicationFactor: number;
}

const Q = `{ cluster { nodes { id uri zone state isAvailable isThisNode segmentCount segmentBytes primaryPartitions }
  ingestPartitions { id nodeIds safeOffset endOffset lag pinnedQueueBytes } segmentCount segmentBytes bucket
  bucketUploadBacklog { segments bytes } replicationFactor } }`;

export default function ClusterPage() {
  const [c, setC] = useState<ClusterInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const load = () =>
      gql<{ cluster: ClusterInfo }>(Q)
        .then((d) => {
          setC(d.cluster);
          setError(null);
        })
        .catch((e) => setError(e.message));
    load();
    const t = setInterval(load, 5000);
    return () => clearInterval(t);
  }, []);
  if (!c) return <div class="page">{error ? <div class="error">{error}</div> : "Loading…"}</div>;
  return (
    <div class="page" data-testid="cluster">
      <h2>Cluster</h2>
      {error && <div class="error">{error}</div>}
      <div class="stats">
        <div class="stat">
          <div class="big">{c.nodes.length}</div>nodes
        </div>
        <div class="stat">
          <div class="big">{formatCount(c.segmentCount)}</div>segments
        </div>
        <div class="stat">
          <div class="big">{formatBytes(c.segmentBytes)}</div>stored
        </div>
        <div class="stat" data-testid="backlog">
          <div class="big">{c.bucket ? `${c.bucketUploadBacklog.segments}` : "–"}</div>
          {c.bucket ? `segments to upload (${formatBytes(c.bucketUploadBacklog.bytes)}) to ${c.bucket}` : "no bucket configured"}
        </div>
        <div class="stat">
          <div class="big">{c.replicationFactor}</div>replication factor
        </div>
      </div>
      <h3>Nodes</h3>
      <table class="list" data-testid="nodes">
        <thead>
          <tr>
            <th>Id</th>
            <th>URL</th>
            <th>State</th>
            <th class="num">Segments</th>
            <th class="num">Size</th>
            <th>Primary for partitions</th>
          </tr>
        </thead>
        <tbody>
          {c.nodes.map((n) => (
            <tr key={n.id}>
              <td>
                {n.id}
                {n.isThisNode && <span class="muted"> (this node)</span>}
              </td>
              <td>{n.uri}</td>
              <td>
                <span class={n.isAvailable ? "badge ok" : "badge bad"}>{n.state}</span>
              </td>
              <td class="num">{formatCount(n.segmentCount)}</td>
              <td class="num">{formatBytes(n.segmentBytes)}</td>
              <td>{n.primaryPartitions.join(", ")}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Digest partitions</h3>
      <table class="list" data-testid="partitions">
        <thead>
          <tr>
            <th>Partition</th>
            <th>Nodes (primary first)</th>
            <th class="num">Safe offset</th>
            <th class="num">End offset</th>
            <th class="num">Ingest lag (events)</th>
            <th class="num" title="Ingest queue bytes the open work-in-progress buffers keep from being truncated; known to the partition's primary only">
              Pinned queue
            </th>
          </tr>
        </thead>
        <tbody>
          {c.ingestPartitions.map((p) => (
            <tr key={p.id}>
              <td>{p.id}</td>
              <td>{p.nodeIds.join(", ")}</td>
              <td class="num">{formatCount(p.safeOffset)}</td>
              <td class="num">{p.endOffset === null ? "–" : formatCount(p.endOffset)}</td>
              <td class="num">{p.lag === null ? "–" : formatCount(p.lag)}</td>
              <td class="num" data-testid="pinned">
                {p.pinnedQueueBytes === null ? "–" : formatBytes(p.pinnedQueueBytes)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
