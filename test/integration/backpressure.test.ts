// Backpressure and bounded pages: storage stalled or slowed by a TCP proxy stops the reading, large clusters make small pages.

import { ArmEmulator } from '../../emulators/armEmulator';
import { generateEstate } from '../../emulators/estateGenerator';
import { type LocalAzure, startLocalAzure } from '../../emulators/localAzure';
import { TcpProxy } from '../../emulators/tcpProxy';
import { trustCertificate } from '../../emulators/tls';
import { createLatestImageFetcher, createResourceGraphClient } from '../../src/azure/azureClients';
import { createCredential } from '../../src/azure/azureClients';
import { NodeImageLookup } from '../../src/azure/nodeImageLookup';
import { ResourceGraphSource, type SourceEvent } from '../../src/azure/resourceGraphSource';
import { loadConfig } from '../../src/config';
import { newRunId } from '../../src/core/runId';
import { auditScope, type ClusterSource } from '../../src/pipeline/auditScope';
import { pageWindowStats } from '../../src/pipeline/pageWindow';
import { TableClientFactory } from '../../src/store/tableClientFactory';
import { TableStores as Stores, type TableStores } from '../support/tableStores';

/** About 600 clusters of 1-3 pools, read 20 clusters a page: about 30 pages. */
const estate = generateEstate({
  seed: 12,
  pools: 1200,
  subscriptions: 12,
  poolsPerCluster: 2,
  spread: 'even',
});
const PAGE_SIZE = 20;
const PAGES = Math.ceil(estate.clusters.length / PAGE_SIZE);
const LARGEST_CLUSTER = Math.max(...estate.clusters.map((c) => c.properties.agentPoolProfiles.length));
const LIMIT = 2;

let local: LocalAzure;
let proxy: TcpProxy;

beforeAll(async () => {
  local = await startLocalAzure(estate);
  const endpoint = /TableEndpoint=([^;]+)/.exec(
    local.env.AUDIT_TABLES_CONNECTION_STRING as string,
  )?.[1] as string;
  const { hostname, port } = new URL(endpoint);
  proxy = await TcpProxy.start({ host: hostname, port: Number(port) });
});

afterAll(async () => {
  await proxy?.close();
  await local?.stop();
});

/** The source, counting the pages it has been asked for and what the window held each time it was. */
class CountingSource implements ClusterSource {
  requested = 0;
  /** Pages read minus pages stored, seen by the source each time it is asked for a page. */
  readonly aheadWhenAsked: number[] = [];
  constructor(
    private readonly inner: ResourceGraphSource,
    private readonly stats: ReturnType<typeof pageWindowStats>,
  ) {}
  readSubscriptionNames() {
    return this.inner.readSubscriptionNames();
  }
  async *readClusters(): AsyncIterableIterator<SourceEvent> {
    for await (const event of this.inner.readClusters()) {
      if (event.kind === 'clusters') {
        this.requested += 1;
        this.aheadWhenAsked.push(this.stats.pagesRead - this.stats.pagesStored);
      }
      yield event;
    }
  }
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20));
}

it('holds at most its window of pages while storage stalls, and reads on as storage drains', async () => {
  const config = loadConfig({ ...local.env, AUDIT_TABLE_PREFIX: 'backpressure' });
  const connectionString = (local.env.AUDIT_TABLES_CONNECTION_STRING as string).replace(
    /TableEndpoint=[^;]+/,
    `TableEndpoint=http://${proxy.host}:${proxy.port}/devstoreaccount1`,
  );
  const stores: TableStores = new Stores(
    new TableClientFactory({
      tablePrefix: 'backpressure',
      storage: { kind: 'connectionString', connectionString },
    }),
  );
  await stores.ensureTables();
  const credential = createCredential(config);
  const stats = pageWindowStats(LIMIT);
  const source = new CountingSource(
    new ResourceGraphSource({
      client: createResourceGraphClient(config, credential),
      subscriptions: null,
      managementGroups: null,
      pageSize: PAGE_SIZE,
    }),
    stats,
  );
  const runId = newRunId(new Date());

  // Storage answers nothing: the audit reads its window's worth of pages and then waits instead of reading on.
  await proxy.setMode('hang');
  const audit = auditScope({
    runId,
    startedAt: new Date(),
    part: 'run',
    source,
    freshness: new NodeImageLookup(createLatestImageFetcher(config, credential)),
    matrix: config.matrix,
    nodeImageMaxAgeInDays: config.nodeImageMaxAgeInDays,
    ownerTag: null,
    exemptions: [],
    results: stores.results,
    poolStates: stores.poolStates,
    knownPools: async function* () {},
    beforeWrite: () => Promise.resolve(),
    pageWindow: stats,
  });
  await until(() => stats.waits >= 1);
  // Resource Graph is asked again only when a page is stored, and none can be now.
  const graphRequests = local.arm.stats.graphRequests;
  await new Promise((resolve) => setImmediate(resolve));
  expect(source.requested).toBe(LIMIT);
  expect(stats.inFlight).toBe(LIMIT);
  expect(local.arm.stats.graphRequests).toBe(graphRequests);

  // Slow storage: pages keep arriving, each only once an earlier one is stored.
  await proxy.setMode('delay', { delayInMs: 2 });
  const outcome = await audit;

  expect(outcome.summary.pools).toBe(1200);
  expect(source.requested).toBe(PAGES);
  expect(stats).toMatchObject({ pagesRead: PAGES, pagesStored: PAGES, inFlight: 0, poolsInFlight: 0 });
  expect(stats.highWater).toBe(LIMIT);
  expect(Math.max(...source.aheadWhenAsked)).toBeLessThanOrEqual(LIMIT - 1);
  // At most the window's pools were ever held: never the estate, however far storage lagged.
  expect(stats.poolsHighWater).toBeLessThanOrEqual(LIMIT * PAGE_SIZE * LARGEST_CLUSTER);

  const pools: string[] = [];
  for await (const pool of stores.results.listRunPools(runId)) pools.push(pool.id);
  expect(pools).toHaveLength(1200);
  let states = 0;
  for await (const state of stores.poolStates.listPoolStates()) states += state.lastRunId === runId ? 1 : 0;
  expect(states).toBe(1200);
});

it('asks for fewer clusters a page when clusters are large, so a page holds a bounded number of pools', async () => {
  // 20 clusters of 100 pools: with 500 pools a page, pages of 5 clusters after the first.
  const big = generateEstate({ seed: 13, pools: 2000, subscriptions: 2, poolsPerCluster: 100 });
  const arm = await ArmEmulator.start({
    estate: big,
    identity: local.identity,
    audience: 'https://management.azure.com/',
    quota: null,
  });
  trustCertificate(arm.certificatePem);
  try {
    const config = loadConfig({ AZURE_CLOUD: 'AzureCloud', AUDIT_ARM_ENDPOINT: arm.endpoint });
    const logs: string[] = [];
    const source = new ResourceGraphSource({
      client: createResourceGraphClient(config, createCredential(config)),
      subscriptions: null,
      managementGroups: null,
      pageSize: 8,
      poolsPerPage: 500,
      log: (m) => logs.push(m),
    });
    const pages: number[] = [];
    for await (const event of source.readClusters())
      if (event.kind === 'clusters') pages.push(event.rows.length);
    expect(pages).toEqual([8, 5, 5, 2]);
    expect(logs).toContain(
      'Resource Graph /: about 100 pools a cluster; asking for 5 clusters a page (about 500 pools) instead of 8',
    );
  } finally {
    await arm.close();
  }
});
