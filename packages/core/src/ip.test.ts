import { describe, expect, it } from 'vitest';
import { ipKey } from './ip.js';

describe('ipKey', () => {
  it.each([
    // IPv4 as is
    ['10.0.0.1', '10.0.0.1'],
    ['255.255.255.255', '255.255.255.255'],
    ['0.0.0.0', '0.0.0.0'],
    // IPv4-mapped IPv6, dotted and hex forms, any case and spelling → the IPv4
    ['::ffff:10.0.0.1', '10.0.0.1'],
    ['::FFFF:192.168.1.20', '192.168.1.20'],
    ['0:0:0:0:0:ffff:192.168.1.20', '192.168.1.20'],
    ['::ffff:a00:1', '10.0.0.1'],
    ['::ffff:c0a8:0114', '192.168.1.20'],
    ['0000:0000:0000:0000:0000:FFFF:C0A8:0114', '192.168.1.20'],
    // IPv6 by /56 prefix
    ['2001:db8:abcd:12ff::1', '2001:db8:abcd:1200::/56'],
    ['2001:db8:abcd:1234:5678:9abc:def0:1234', '2001:db8:abcd:1200::/56'],
    ['2001:0DB8:ABCD:12aa:ffff:ffff:ffff:ffff', '2001:db8:abcd:1200::/56'],
    ['::1', '0:0:0:0::/56'],
    ['::', '0:0:0:0::/56'],
    ['fe80::1', 'fe80:0:0:0::/56'],
    ['1:2:3:4:5:6:7::', '1:2:3:0::/56'],
    ['::1:2:3:4:5:6:7', '0:1:2:0::/56'],
    ['2001:db8::ffff:1.2.3.4', '2001:db8:0:0::/56'],
    // zone ids are dropped
    ['fe80::1%eth0', 'fe80:0:0:0::/56'],
    ['fe80::abcd%25en0', 'fe80:0:0:0::/56'],
    // brackets (URL form), with or without a zone
    ['[2001:db8::1]', '2001:db8:0:0::/56'],
    ['[fe80::1%eth0]', 'fe80:0:0:0::/56'],
  ])('%s → %s', (address, key) => {
    expect(ipKey(address)).toBe(key);
  });

  it('every spelling of one /56 gives one key', () => {
    const spellings = [
      '2001:db8:0:100::1',
      '2001:db8::100:0:0:0:1',
      '2001:0db8:0000:0100:0000:0000:0000:0001',
      '2001:DB8:0:1FF:ffff::',
      '2001:db8:0:1ab::%lo',
    ];
    expect(new Set(spellings.map(ipKey))).toEqual(new Set(['2001:db8:0:100::/56']));
    // The next /56 is another key.
    expect(ipKey('2001:db8:0:200::1')).toBe('2001:db8:0:200::/56');
  });

  it.each([
    '',
    'localhost',
    'not an ip',
    '1.2.3',
    '1.2.3.4.5',
    '1.2.3.256',
    '1.2.3.-4',
    '1.2.3.4 ',
    ' 1.2.3.4',
    '1..3.4',
    '01234.1.1.1',
    '1::2::3',
    ':::',
    ':1',
    '1:',
    '12345::',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7:8::',
    '1::2:3:4:5:6:7:8',
    '1:2:3:4:5:6:7',
    'g::1',
    '::ffff:1.2.3.999',
    '::ffff:1.2.3',
    '1.2.3.4::',
    '[::1',
  ])('%j → undefined', (garbage) => {
    expect(ipKey(garbage)).toBeUndefined();
  });

  it.each([undefined, null, 42, {}])('non-strings (%j) → undefined', (value) => {
    expect(ipKey(value as never)).toBeUndefined();
  });
});
