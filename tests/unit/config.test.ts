import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';

describe('config', () => {
  it('applies defaults to a minimal config', () => {
    const r = parseConfigText('store: { id: "0421" }\ngateway: { id: gw-1 }\n');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.mqtt.protocolVersion).toBe(5);
    expect(r.config.mqtt.reconnect.maxMs).toBe(30000);
    expect(r.config.buffer.maxBytes).toBe(1024 ** 3);
    expect(r.config.api.port).toBe(8080);
    expect(r.config.devices).toEqual([]);
  });
});
