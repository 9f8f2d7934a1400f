import express5 from 'express';
import express4 from 'express4';
import { testAdapter } from '../../core/test/adapter-suite.js';
import { expressHarness } from './harness.js';

testAdapter('express 5', expressHarness(express5));
testAdapter('express 4', expressHarness(express4 as typeof express5));
