// Judges one agent pool, and one cluster, against the FIPS matrix. Pure: the clock and look-ups are passed in.

import { type FipsMatrix, type OperatingSystem, resolveOs } from './fipsMatrix';
import { arm64FipsOptions, fipsReplacementSku } from './fipsReplacementSku';
import { compareMinor, describeRange, inRange, parseKubernetesVersion } from './kubernetesVersion';
import { describeNodeImage, nodeImageBuildDate, WINDOWS_RELEASE_INTERVAL_IN_DAYS } from './nodeImage';
import type {
  ClusterRecord,
  ClusterResult,
  Finding,
  FindingCode,
  ImageFreshness,
  PoolRecord,
  PoolResult,
  PoolStatus,
  Severity,
} from './types';

export interface EvaluationOptions {
  matrix: FipsMatrix;
  /** The moment the audit judges at: retirement dates and image ages are measured against it. */
  asOf: Date;
  /** A FIPS node image more than this many days behind the latest (or old) is outdated. */
  nodeImageMaxAgeInDays: number;
  /** AUDIT_OWNER_TAG: the cluster tag whose value becomes each pool's `owner`. */
  ownerTag?: string;
}

/** The value of the cluster's tag `name`; tag names compare case-insensitively in ARM, values as they are. */
export function tagValue(tags: Readonly<Record<string, string>>, name: string): string | null {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(tags)) if (key.toLowerCase() === wanted) return value;
  return null;
}

const SEVERITY: Record<FindingCode, Severity> = {
  FIPS_DISABLED: 'high',
  OS_NOT_FIPS_CAPABLE: 'high',
  OS_RETIRED: 'high',
  KUBERNETES_VERSION_UNSUPPORTED: 'high',
  NODE_IMAGE_NOT_FIPS: 'high',
  FIPS_140_2_MODULE: 'medium',
  NODE_IMAGE_OUTDATED: 'medium',
  FIPS_PLATFORM_DEFAULT: 'info',
  OS_SKU_UNRECOGNIZED: 'info',
  SCOPE_UNREADABLE: 'info',
  NODE_AUTOPROVISIONING_UNAUDITED: 'medium',
};

/** Codes after which a pool cannot be judged at all. */
const UNDECIDED: ReadonlySet<FindingCode> = new Set(['OS_SKU_UNRECOGNIZED', 'SCOPE_UNREADABLE']);

const DAY_IN_MS = 86_400_000;

export function finding(code: FindingCode, message: string, remediation: string): Finding {
  return UNDECIDED.has(code)
    ? { code, severity: SEVERITY[code], message, remediation, undecided: true }
    : { code, severity: SEVERITY[code], message, remediation };
}

/** Quotes a value for a POSIX shell when it is not a plain name, so commands can be pasted as they are. */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9._\-/:=@]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

interface PoolContext {
  cluster: ClusterRecord;
  pool: PoolRecord;
}

function poolArgs({ cluster, pool }: PoolContext): string {
  return `--subscription ${shellQuote(cluster.subscriptionId)} --resource-group ${shellQuote(cluster.resourceGroup)} --cluster-name ${shellQuote(cluster.name)} --name ${shellQuote(pool.name)}`;
}

function replacePoolCommand(
  ctx: PoolContext,
  osType: 'Linux' | 'Windows',
  osSku: string,
  extraArgs = '',
): string {
  const { cluster, pool } = ctx;
  const add =
    `az aks nodepool add --subscription ${shellQuote(cluster.subscriptionId)} --resource-group ${shellQuote(cluster.resourceGroup)} ` +
    `--cluster-name ${shellQuote(cluster.name)} --name <newpool> --os-type ${osType} --os-sku ${osSku} --enable-fips-image` +
    (pool.mode ? ` --mode ${pool.mode}` : '') +
    extraArgs;
  return `Create a FIPS pool and move the workloads to it: \`${add}\`, then cordon and drain the old nodes and remove the old pool: \`az aks nodepool delete ${poolArgs(ctx)}\`.`;
}

/** Arm64 VM sizes carry a `p` in their feature letters (Standard_D4ps_v5, Standard_E8pds_v6). */
export function isArm64VmSize(vmSize: string | null): boolean {
  // Feature letters come after the core count, so the family letters (e.g. NP) never match the `p`.
  return !!vmSize && /^Standard_[A-Z]+\d+[A-Z]*p[A-Z]*_v\d+/i.test(vmSize);
}

/** Confidential VM sizes (AMD SEV-SNP and Intel TDX): DCasv5, ECadsv5, DCesv5, ECedsv5 and their kin. */
export function isConfidentialVmSize(vmSize: string | null): boolean {
  return !!vmSize && /^Standard_(DC|EC)\d+[a-z]*(as|ads|es|eds)(_cc)?_v\d+/i.test(vmSize);
}

/** Every VM size the pool may run on: its `vmSize` and, for a VirtualMachines pool, each size of its profile. */
export function vmSizesOf(pool: PoolRecord): string[] {
  return [...new Set([...(pool.vmSize ? [pool.vmSize] : []), ...pool.vmSizes])];
}

function effectiveKubernetesVersion(cluster: ClusterRecord, pool: PoolRecord): string | null {
  return (
    pool.currentOrchestratorVersion ??
    pool.orchestratorVersion ??
    cluster.currentKubernetesVersion ??
    cluster.kubernetesVersion
  );
}

function statusOf(findings: Finding[]): PoolStatus {
  if (findings.some((f) => f.undecided)) return 'unknown';
  return findings.some((f) => f.severity === 'high') ? 'noncompliant' : 'compliant';
}

function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function featureFindings(
  ctx: PoolContext,
  os: OperatingSystem,
  osType: 'Linux' | 'Windows',
  k8s: [number, number, number] | null,
  matrix: FipsMatrix,
  asOfDay: string,
  /** The SKU a replacement pool should use (fipsReplacementSku). */
  fipsSku: string,
): Finding[] {
  const { pool } = ctx;
  const out: Finding[] = [];
  const linuxSkus = 'create the pool with `--os-sku AzureLinux3`';
  const sizes = vmSizesOf(pool);
  const arm64Sizes = sizes.filter(isArm64VmSize);
  const confidentialSizes = sizes.filter(isConfidentialVmSize);
  if (arm64Sizes.length) {
    const arm = os.arm64;
    if (!arm) {
      out.push(
        finding(
          'OS_NOT_FIPS_CAPABLE',
          `${os.name} on Arm64 (${arm64Sizes.join(', ')}) has no FIPS image; ${arm64FipsOptions(matrix, asOfDay)}.`,
          `Azure Linux 3.0 is the FIPS option on Arm64 (Kubernetes 1.31+): ${replacePoolCommand(ctx, 'Linux', 'AzureLinux3')}`,
        ),
      );
    } else if (k8s && compareMinor(k8s, parseKubernetesVersion(arm.fromKubernetes)!) < 0) {
      out.push(
        finding(
          'OS_NOT_FIPS_CAPABLE',
          `${os.name} FIPS on Arm64 needs Kubernetes ${arm.fromKubernetes} or later; this pool runs ${k8s.join('.')}.`,
          `Upgrade the cluster: \`az aks upgrade --subscription ${shellQuote(ctx.cluster.subscriptionId)} --resource-group ${shellQuote(ctx.cluster.resourceGroup)} --name ${shellQuote(ctx.cluster.name)} --kubernetes-version <${arm.fromKubernetes} or later>\`.`,
        ),
      );
    }
  }
  if (confidentialSizes.length) {
    out.push(
      finding(
        'OS_NOT_FIPS_CAPABLE',
        `Confidential VM size${confidentialSizes.length > 1 ? 's' : ''} ${confidentialSizes.join(', ')} cannot be combined with FIPS on AKS.`,
        `Use a non-confidential VM size for FIPS workloads: ${replacePoolCommand(ctx, osType, fipsSku, ' --node-vm-size <non-confidential size>')}`,
      ),
    );
  }
  if (pool.workloadRuntime && /kata/i.test(pool.workloadRuntime)) {
    out.push(
      finding(
        'OS_NOT_FIPS_CAPABLE',
        `Pod Sandboxing (workloadRuntime ${pool.workloadRuntime}) cannot be combined with FIPS on AKS.`,
        `Run FIPS workloads on a pool without Pod Sandboxing: ${replacePoolCommand(ctx, osType, fipsSku)}`,
      ),
    );
  }
  if (pool.trustedLaunch && !os.trustedLaunchWithFips) {
    out.push(
      finding(
        'OS_NOT_FIPS_CAPABLE',
        `Trusted Launch combines with FIPS only on Ubuntu 22.04 Gen2; this pool runs ${os.name}.`,
        osType === 'Windows'
          ? `Create the Windows pool without Trusted Launch: ${replacePoolCommand(ctx, 'Windows', fipsSku)}`
          : `Use Ubuntu 22.04 for a Trusted Launch FIPS pool: ${replacePoolCommand(ctx, 'Linux', 'Ubuntu2204', ' --enable-secure-boot --enable-vtpm')} Otherwise ${linuxSkus} without Trusted Launch.`,
      ),
    );
  }
  return out;
}

function freshnessFinding(
  ctx: PoolContext,
  freshness: ImageFreshness | undefined,
  opts: EvaluationOptions,
): Finding | null {
  const current = ctx.pool.nodeImageVersion;
  if (!current || !freshness) return null;
  const upgrade = `Upgrade the node image (this also updates the FIPS modules): \`az aks nodepool upgrade ${poolArgs(ctx)} --node-image-only\`.`;
  const built = nodeImageBuildDate(current);
  const limit = opts.nodeImageMaxAgeInDays;
  if (freshness.basis === 'upgradeProfile') {
    const latest = freshness.latestNodeImageVersion;
    if (latest.toLowerCase() === current.toLowerCase()) return null;
    const latestBuilt = nodeImageBuildDate(latest);
    if (built && latestBuilt) {
      const lagInDays = Math.floor((latestBuilt.getTime() - built.getTime()) / DAY_IN_MS);
      if (lagInDays <= limit) return null;
      return finding(
        'NODE_IMAGE_OUTDATED',
        `Node image ${current} is ${lagInDays} days behind the latest ${latest} (limit ${limit} days; basis: the pool's upgrade profile).`,
        upgrade,
      );
    }
    return finding(
      'NODE_IMAGE_OUTDATED',
      `Node image ${current} differs from the latest ${latest} and their build dates cannot be compared (basis: the pool's upgrade profile).`,
      upgrade,
    );
  }
  if (!built) return null;
  const ageInDays = Math.floor((opts.asOf.getTime() - built.getTime()) / DAY_IN_MS);
  // Windows images come monthly: the newest one is itself up to a release interval old, so on this basis a
  // Windows image is only outdated once it is older than the limit plus that interval (Linux images are weekly).
  const allowance = describeNodeImage(current).windows ? WINDOWS_RELEASE_INTERVAL_IN_DAYS : 0;
  if (ageInDays <= limit + allowance) return null;
  const allowanceText = allowance
    ? ` plus ${allowance} days, the interval between monthly Windows node image releases`
    : '';
  return finding(
    'NODE_IMAGE_OUTDATED',
    `Node image ${current} was built ${isoDay(built)}, ${ageInDays} days before this audit (limit ${limit} days${allowanceText}; basis: the image's build date, because ${freshness.reason}).`,
    upgrade,
  );
}

/** Judges one pool with every rule of the matrix. Exemptions are applied afterwards by the caller. */
export function evaluatePool(
  cluster: ClusterRecord,
  pool: PoolRecord,
  opts: EvaluationOptions,
  freshness?: ImageFreshness,
): PoolResult {
  const ctx: PoolContext = { cluster, pool };
  const { matrix, asOf } = opts;
  const versionText = effectiveKubernetesVersion(cluster, pool);
  const k8s = parseKubernetesVersion(versionText);
  const findings: Finding[] = [];
  const resolved = resolveOs(matrix, pool, k8s);
  const base = {
    id: pool.id,
    subscriptionId: cluster.subscriptionId,
    resourceGroup: cluster.resourceGroup,
    cluster: cluster.name,
    pool: pool.name,
    location: cluster.location,
    osType: pool.osType,
    osSku: pool.osSku,
    kubernetesVersion: versionText,
    nodeImageVersion: pool.nodeImageVersion,
    enableFips: pool.enableFips,
    exemption: null,
    ...(opts.ownerTag === undefined ? {} : { owner: tagValue(cluster.tags, opts.ownerTag) }),
  };

  if (!resolved) {
    findings.push(
      finding(
        'OS_SKU_UNRECOGNIZED',
        `OS SKU ${JSON.stringify(pool.osSku)} (${pool.osType ?? 'unknown OS type'}, Kubernetes ${versionText ?? 'unknown'}) is not in FIPS matrix ${matrix.version}, so this pool cannot be judged.`,
        `Check the SKU against the AKS FIPS documentation and, if it is FIPS-capable, add it to a matrix override file named by AUDIT_MATRIX_FILE.`,
      ),
    );
    return { ...base, status: 'unknown', findings };
  }

  const { os } = resolved;
  const osType = matrix.osSkus[resolved.osSku]?.osType ?? 'Linux';
  const skuText = resolved.defaulted
    ? `no OS SKU (AKS default ${resolved.osSku}, ${os.name})`
    : resolved.basis === 'fixed'
      ? `${resolved.osSku} (${os.name})`
      : `${resolved.osSku}, resolved to ${os.name} by its ${resolved.basis === 'nodeImage' ? 'node image' : 'Kubernetes version'}`;
  const asOfDay = isoDay(asOf);
  const fipsBySku = os.fips !== 'none' && !(os.fipsSince && os.fipsSince > asOfDay);
  // The SKU a replacement pool should use: a FIPS-capable SKU of the pool's OS type that exists on its version.
  const replacementSku = fipsReplacementSku(matrix, osType, k8s, asOfDay);

  if (!fipsBySku) {
    findings.push(
      finding(
        'OS_NOT_FIPS_CAPABLE',
        `${skuText} has no FIPS image${os.fipsSince ? ` before ${os.fipsSince}` : ''}.`,
        osType === 'Windows'
          ? replacePoolCommand(ctx, 'Windows', replacementSku)
          : `${replacePoolCommand(ctx, 'Linux', replacementSku)}${replacementSku === 'Ubuntu2204' ? '' : ' (Ubuntu2204 is the other FIPS-capable Linux SKU.)'}`,
      ),
    );
  }
  if (os.retiredOn && os.retiredOn <= asOfDay) {
    findings.push(
      finding(
        'OS_RETIRED',
        `${os.name} was retired on AKS on ${os.retiredOn} and receives no FIPS patches.`,
        replacePoolCommand(ctx, osType, replacementSku),
      ),
    );
  }

  const fipsOn = fipsBySku && (os.fips === 'opt-in' ? pool.enableFips === true : true);
  if (fipsBySku && os.fips === 'opt-in' && pool.enableFips !== true) {
    findings.push(
      finding(
        'FIPS_DISABLED',
        `FIPS is off on ${skuText}: enableFIPS is ${pool.enableFips === false ? 'false' : 'not set'}.`,
        osType === 'Windows'
          ? `Windows pools cannot be switched to FIPS. ${replacePoolCommand(ctx, 'Windows', replacementSku)}`
          : `Enable the FIPS image (Azure CLI 2.64.0+; this reimages the pool's nodes): \`az aks nodepool update ${poolArgs(ctx)} --enable-fips-image\`.`,
      ),
    );
  }
  if (fipsBySku && os.fips !== 'opt-in' && pool.enableFips !== true) {
    findings.push(
      finding(
        'FIPS_PLATFORM_DEFAULT',
        `FIPS is on because ${os.name} enforces it${os.fips === 'always' ? ' (it cannot be disabled)' : ' by default'}, not because enableFIPS is set.`,
        'Nothing to fix. To make the intent explicit in new pools, create them with `--enable-fips-image`.',
      ),
    );
  }

  const min = parseKubernetesVersion(matrix.minKubernetesVersion);
  const upgradeCluster = `\`az aks upgrade --subscription ${shellQuote(cluster.subscriptionId)} --resource-group ${shellQuote(cluster.resourceGroup)} --name ${shellQuote(cluster.name)} --kubernetes-version <version>\``;
  if (k8s && min && compareMinor(k8s, min) < 0) {
    findings.push(
      finding(
        'KUBERNETES_VERSION_UNSUPPORTED',
        `Kubernetes ${versionText} is below ${matrix.minKubernetesVersion}, the minimum for FIPS node pools.`,
        `Upgrade the cluster to a supported version: ${upgradeCluster}.`,
      ),
    );
  } else if (k8s && os.kubernetes && !inRange(k8s, os.kubernetes)) {
    findings.push(
      finding(
        'KUBERNETES_VERSION_UNSUPPORTED',
        `${os.name} is supported on ${describeRange(os.kubernetes)}; this pool runs Kubernetes ${versionText}.`,
        compareMinor(k8s, parseKubernetesVersion(os.kubernetes.from ?? '0.0')!) < 0
          ? `Upgrade the cluster: ${upgradeCluster}.`
          : replacePoolCommand(ctx, osType, replacementSku),
      ),
    );
  }

  if (fipsBySku) findings.push(...featureFindings(ctx, os, osType, k8s, matrix, asOfDay, replacementSku));

  if (
    fipsOn &&
    osType === 'Linux' &&
    os.fips === 'opt-in' &&
    pool.nodeImageVersion &&
    !/fips/i.test(pool.nodeImageVersion)
  ) {
    findings.push(
      finding(
        'NODE_IMAGE_NOT_FIPS',
        `enableFIPS is true but node image ${pool.nodeImageVersion} is not a FIPS image: the nodes are not running FIPS (reimage pending or drift).`,
        `Reimage the pool onto the FIPS image: \`az aks nodepool upgrade ${poolArgs(ctx)} --node-image-only\`; if it stays non-FIPS, run \`az aks nodepool update ${poolArgs(ctx)} --enable-fips-image\`.`,
      ),
    );
  }
  if (fipsOn && os.fipsModule === '140-2' && asOfDay >= matrix.fips1402HistoricalSince) {
    findings.push(
      finding(
        'FIPS_140_2_MODULE',
        `${os.name} FIPS images carry FIPS 140-2 modules, on NIST's CMVP Historical list since ${matrix.fips1402HistoricalSince}.`,
        `Move to a FIPS 140-3 OS: ${replacePoolCommand(ctx, 'Linux', 'Ubuntu2204')} Or upgrade the cluster to Kubernetes 1.35+, where the floating Ubuntu FIPS image is 22.04.`,
      ),
    );
  }
  if (fipsOn) {
    const outdated = freshnessFinding(ctx, freshness, opts);
    if (outdated) findings.push(outdated);
  }
  return { ...base, status: statusOf(findings), findings };
}

/** Findings that belong to the cluster rather than to one pool. */
export function evaluateCluster(cluster: ClusterRecord): ClusterResult {
  const findings: Finding[] = [];
  if (cluster.nodeProvisioningMode?.toLowerCase() === 'auto') {
    findings.push(
      finding(
        'NODE_AUTOPROVISIONING_UNAUDITED',
        'Node auto-provisioning is on: it creates nodes outside agentPoolProfiles whose FIPS mode (AKSNodeClass spec.fipsMode) this audit cannot see.',
        `Check every AKSNodeClass sets fipsMode: \`az aks get-credentials --subscription ${shellQuote(cluster.subscriptionId)} --resource-group ${shellQuote(cluster.resourceGroup)} --name ${shellQuote(cluster.name)} && kubectl get aksnodeclass -o custom-columns=NAME:.metadata.name,FIPS:.spec.fipsMode\`.`,
      ),
    );
  }
  return { id: cluster.id, findings };
}

/** Turns a pool remembered from an earlier run into an `unknown` result for a scope that could not be read now. */
export function unreadablePool(previous: PoolResult, scope: string, reason: string): PoolResult {
  return {
    ...previous,
    status: 'unknown',
    exemption: null,
    findings: [
      finding(
        'SCOPE_UNREADABLE',
        `Scope ${scope} could not be read in this run (${reason}); this pool was last seen ${previous.status}.`,
        'Check that the auditor identity still has Reader on the scope and that Resource Graph is reachable, then run the audit again.',
      ),
    ],
  };
}
