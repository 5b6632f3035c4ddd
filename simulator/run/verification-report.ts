/** What `simulate verify` found in the store for a run. */
export interface VerificationReport {
  /** Where the stored readings were read from: the query API of a node, or the store directly. */
  readonly source: 'query-api' | 'store';
  readonly checkedAt: string;
  readonly devices: number;
  /** Values acknowledged (HTTP 200 / PUBACK): each must be stored exactly once with the value sent. */
  readonly acknowledged: {
    readonly expected: number;
    readonly storedOnce: number;
    readonly missing: number;
    readonly duplicated: number;
    readonly wrongValue: number;
  };
  /** Values sampled but never acknowledged (QoS 0, refused, pending at the end): how many were stored anyway. */
  readonly unacknowledged: { readonly sampled: number; readonly stored: number };
  /** Fault probes (metric fault_probe) found in the store: must be 0. */
  readonly faultProbesStored: number;
  /** Stored values of these devices that this run did not sample (an earlier run, another writer). */
  readonly otherStored: number;
  readonly ok: boolean;
  /** The first problems found (at most 20 listed); counts above are complete. */
  readonly problems: readonly string[];
}
