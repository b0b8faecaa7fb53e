/**
 * A phone's list of TFTP servers (DHCP option 150 holds up to two, several TFTP nodes of a cluster): it asks the
 * first; a server that does not answer (any failure other than "file not found") is left for the next one, and the
 * phone stays with the server that answered for the rest of its boot, as a phone whose TFTP server died boots from
 * the other one. Each server serves its own ITL (issue 21 item 4); which one the phone used is `current`.
 */
import type { FetchResult } from './boot.js';
import type { FileFetcher } from './phone.js';

export interface NamedFetcher {
  /** How the server is named in reports (its address: the DeviceTLInfo `tftpServer`). */
  name: string;
  fetcher: FileFetcher;
}

export class FetcherList implements FileFetcher {
  readonly servers: readonly NamedFetcher[];
  #index = 0;
  /** Moves to another server and why, for reports and tests. */
  readonly moves: string[] = [];

  constructor(servers: readonly NamedFetcher[]) {
    if (servers.length === 0) throw new RangeError('a TFTP server list needs at least one server');
    this.servers = servers;
  }

  /** The server the phone asks now (the last one that answered). */
  get current(): NamedFetcher {
    return this.servers[this.#index]!;
  }

  async fetch(name: string): Promise<FetchResult> {
    let last: FetchResult | undefined;
    for (let tried = 0; tried < this.servers.length; tried++) {
      const server = this.servers[this.#index]!;
      last = await server.fetcher.fetch(name);
      if (last.kind !== 'error') return last;
      const next = (this.#index + 1) % this.servers.length;
      this.moves.push(`${server.name} → ${this.servers[next]!.name}: ${last.message}`);
      this.#index = next;
    }
    return last!;
  }
}
