/** `tributary serve` with a `firmwareBridge` section on UDP port 0, and the ports it bound. */
import { startServe, type RunningBroker, type ServeOptions } from '../helpers/broker.js';

export interface BridgeServe extends RunningBroker {
  /** The first IPv4 MQTT-SN listener's port. */
  udpPort: number;
  bound: Array<{ family: string; host: string; port: number }>;
}

/** `bridgeYaml` is the YAML of the `firmwareBridge.mqttsn` mapping's extra keys, indented by 4. */
export async function startBridgeServe(bridgeYaml = '', options: ServeOptions & { extraYaml?: string; udp?: string } = {}): Promise<BridgeServe> {
  const udp = options.udp ?? '[{ host: 127.0.0.1, port: 0 }]';
  const configYaml = `firmwareBridge:\n  mqttsn:\n    udp: ${udp}\n    retryIntervalMs: 500\n${bridgeYaml}${options.extraYaml ?? ''}`;
  const broker = await startServe({ ...options, configYaml });
  const listening = broker.lines.find((l) => l.msg === 'listening') as { bridge?: Array<{ family: string; host: string; port: number }> };
  const bound = listening.bridge ?? [];
  const udp4 = bound.find((b) => b.family === 'udp4');
  if (udp4 === undefined) throw new Error(`serve bound no MQTT-SN UDP listener: ${JSON.stringify(listening)}`);
  return Object.assign(broker, { udpPort: udp4.port, bound });
}
