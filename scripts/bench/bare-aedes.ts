/**
 * The child process of `startBareAedes` (brokers.ts): aedes with its default in-memory persistence,
 * nothing else, on a free port it prints as `port N`. The peer that shows what the MQTT layer alone costs.
 */
import net, { type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';

const aedes = await Aedes.createBroker();
const server = net.createServer({ noDelay: true }, (socket) => aedes.handle(socket));
server.listen(0, '127.0.0.1', () => process.stdout.write(`port ${(server.address() as AddressInfo).port}\n`));
process.once('SIGTERM', () => process.exit(0));
