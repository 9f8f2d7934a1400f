import { InMemoryBackend } from '../src/backends/memory.js';
import { testBackend } from './backend-suite.js';
import { SingleLimitBackend } from './test-backends.js';

testBackend('memory', () => ({ backend: new InMemoryBackend() }));

// A custom backend with only the required methods: the suite's capability flags at work.
testBackend(
  'custom backend without the optional methods',
  () => ({ backend: new SingleLimitBackend(), lacks: ['reserveMany', 'peek', 'reset', 'block'] }),
  ['reserveMany', 'peek', 'reset', 'block'],
);
