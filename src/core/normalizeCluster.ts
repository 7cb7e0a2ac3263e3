// Turns a managed cluster as Resource Graph, `az aks list` or `az graph query` prints it into a ClusterRecord.

import type { ClusterRecord, PoolRecord } from './types';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads a property whatever its casing (`enableFIPS` from REST, `enableFips` from the CLI). */
function pick(obj: Json, name: string): unknown {
  if (name in obj) return obj[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(obj)) if (key.toLowerCase() === lower) return obj[key];
  return undefined;
}

function str(obj: Json, name: string): string | null {
  const v = pick(obj, name);
  return typeof v === 'string' && v !== '' ? v : null;
}

function bool(obj: Json, name: string): boolean | null {
  const v = pick(obj, name);
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'True') return true;
  if (v === 'false' || v === 'False') return false;
  return null;
}

function code(obj: Json, name: string): string | null {
  const v = pick(obj, name);
  if (typeof v === 'string') return v;
  return isObject(v) ? str(v, 'code') : null;
}

/**
 * The sizes of a VirtualMachines pool: `virtualMachinesProfile.scale.manual[]` and `.autoscale[]`, each with a
 * `size` (api-versions 2025-xx and later; @azure/arm-containerservice 25.5.0 ManualScaleProfile/AutoScaleProfile)
 * or, in earlier previews, a `sizes` list. In profile order, without repeats.
 */
function scaleProfileSizes(pool: Json): string[] {
  const profile = pick(pool, 'virtualMachinesProfile');
  const scale = isObject(profile) ? pick(profile, 'scale') : undefined;
  if (!isObject(scale)) return [];
  const sizes: string[] = [];
  for (const kind of ['manual', 'autoscale']) {
    const entries = pick(scale, kind);
    for (const entry of Array.isArray(entries) ? entries : []) {
      if (!isObject(entry)) continue;
      const one = str(entry, 'size');
      if (one) sizes.push(one);
      const many = pick(entry, 'sizes');
      if (Array.isArray(many))
        sizes.push(...many.filter((s): s is string => typeof s === 'string' && s !== ''));
    }
  }
  return [...new Set(sizes)];
}

const ARM_CLUSTER_ID =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.ContainerService\/managedClusters\/([^/]+)$/i;

export class ClusterShapeError extends Error {
  override readonly name = 'ClusterShapeError';
}

/**
 * Accepts one cluster in REST casing with `properties` (Resource Graph, `az graph query`) or with
 * the properties flattened to the top level in the CLI's casing (`az aks list`), or a mix.
 */
export function normalizeCluster(raw: unknown): ClusterRecord {
  if (!isObject(raw)) throw new ClusterShapeError('a cluster must be a JSON object');
  const id = str(raw, 'id');
  const match = id ? ARM_CLUSTER_ID.exec(id) : null;
  if (!id || !match) {
    throw new ClusterShapeError(
      `a cluster needs an ARM ID like /subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.ContainerService/managedClusters/<name>; got ${JSON.stringify(id)}`,
    );
  }
  const rawProps = pick(raw, 'properties');
  if (rawProps !== undefined && rawProps !== null && !isObject(rawProps)) {
    throw new ClusterShapeError(`cluster ${id}: properties is not an object`);
  }
  const props = isObject(rawProps) ? rawProps : raw;
  const profiles = pick(props, 'agentPoolProfiles');
  // A cluster whose pools cannot be read must not pass for a cluster without pools.
  if (profiles !== undefined && profiles !== null && !Array.isArray(profiles)) {
    throw new ClusterShapeError(`cluster ${id}: agentPoolProfiles is not an array`);
  }
  if (Array.isArray(profiles) && profiles.some((p) => !isObject(p) || typeof pick(p, 'name') !== 'string')) {
    throw new ClusterShapeError(`cluster ${id}: an agent pool profile is not an object with a name`);
  }
  const nodeProvisioning = pick(props, 'nodeProvisioningProfile');
  const tags = pick(raw, 'tags');
  const clusterK8s = str(props, 'kubernetesVersion');
  const pools: PoolRecord[] = (Array.isArray(profiles) ? profiles : []).filter(isObject).map((p) => {
    const name = str(p, 'name') as string;
    const security = pick(p, 'securityProfile');
    const trustedLaunch = isObject(security)
      ? bool(security, 'enableSecureBoot') === true || bool(security, 'enableVTPM') === true
      : false;
    const count = pick(p, 'count');
    return {
      id: `${id}/agentPools/${name}`,
      name,
      osType: str(p, 'osType'),
      osSku: str(p, 'osSKU'),
      enableFips: bool(p, 'enableFIPS'),
      orchestratorVersion: str(p, 'orchestratorVersion') ?? clusterK8s,
      currentOrchestratorVersion: str(p, 'currentOrchestratorVersion'),
      nodeImageVersion: str(p, 'nodeImageVersion'),
      vmSize: str(p, 'vmSize'),
      vmSizes: scaleProfileSizes(p),
      mode: str(p, 'mode'),
      count: typeof count === 'number' ? count : null,
      workloadRuntime: str(p, 'workloadRuntime'),
      trustedLaunch,
      provisioningState: str(p, 'provisioningState'),
      powerState: code(p, 'powerState'),
    };
  });
  return {
    id,
    name: str(raw, 'name') ?? match[3]!,
    subscriptionId: (str(raw, 'subscriptionId') ?? match[1]!).toLowerCase(),
    resourceGroup: str(raw, 'resourceGroup') ?? match[2]!,
    location: str(raw, 'location') ?? '',
    tags: isObject(tags)
      ? Object.fromEntries(
          Object.entries(tags).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
        )
      : {},
    kubernetesVersion: clusterK8s,
    currentKubernetesVersion: str(props, 'currentKubernetesVersion'),
    nodeProvisioningMode: isObject(nodeProvisioning) ? str(nodeProvisioning, 'mode') : null,
    provisioningState: str(props, 'provisioningState'),
    powerState: code(props, 'powerState'),
    pools,
  };
}
