import { InMemoryBackend } from '../src/backends/memory.js';
import { testBackend } from './backend-suite.js';

testBackend('memory', () => ({ backend: new InMemoryBackend() }));
