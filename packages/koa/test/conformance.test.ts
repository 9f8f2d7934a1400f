import { testAdapter } from '../../core/test/adapter-suite.js';
import { KOA_VERSIONS, koaHarness } from './harness.js';

for (const [label, Koa] of KOA_VERSIONS) testAdapter(label, koaHarness(Koa));
