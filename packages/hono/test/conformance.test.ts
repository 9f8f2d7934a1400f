import { testAdapter } from '../../core/test/adapter-suite.js';
import { honoHarness } from './harness.js';

testAdapter('hono on @hono/node-server', honoHarness());
