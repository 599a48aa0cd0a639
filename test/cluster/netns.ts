/**
 * Linux network namespaces as machines, for the cluster tests: a bridge in
 * the root namespace (the "head" machine: coordinator, NATS, gateway, test
 * client) and one namespace per host, each with a veth pair on the bridge
 * (10.N.M.0/24), its own loopback, and an optional htb rate limit on its
 * link. Traffic stays between the root namespace and the namespaces this
 * helper made. Needs root and `ip`; `usable` is false otherwise.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

function sh(...args: string[]): boolean {
  return spawnSync(args[0]!, args.slice(1), { stdio: "ignore" }).status === 0;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Remove namespaces and bridges of this subnet left by test runs that were killed (their pid is gone). */
function removeStale(octet: number): void {
  const ns = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "";
  for (const line of ns.split("\n")) {
    const m = new RegExp(`^(m${octet}p(\\d+)\\S*)`).exec(line);
    if (m && !alive(Number(m[2]))) sh("ip", "netns", "del", m[1]!);
  }
  const links = spawnSync("ip", ["-o", "link", "show", "type", "bridge"], { encoding: "utf8" }).stdout ?? "";
  for (const line of links.split("\n")) {
    const m = new RegExp(`^\\d+: (mbr${octet}x\\d+)[:@].*alias moe-test-pid-(\\d+)`).exec(line);
    if (m && !alive(Number(m[2]))) sh("ip", "link", "del", m[1]!);
  }
}

/** A made network. */
export interface TestNetwork {
  /** False when this machine does not allow namespaces (not root, no `ip`): tests skip. */
  readonly usable: boolean;
  /** Address of the root namespace on the bridge. */
  readonly head: string;
  /** Namespace name and address per host. */
  readonly hosts: Readonly<Record<string, { readonly ns: string; readonly ip: string }>>;
  /** argv prefix that runs a command inside a host's namespace. */
  exec(host: string): string[];
  /** Build the bridge, namespaces and links (call it in `beforeAll`: importing the file builds nothing). */
  setUp(): void;
  /** Remove the namespaces, links and bridge. */
  tearDown(): void;
}

/**
 * A bridge and one namespace per host name, built by `setUp()` (in a `beforeAll`) and removed by `tearDown()`.
 * `tag` (the test process's pid) keeps names and subnets unique per test run; `setUp` first removes what a
 * killed run left behind. `rate` (e.g. `1gbit`) shapes each host's link with htb when `tc` is there.
 */
export function makeNetwork(tag: number, names: readonly string[], o: { rate?: string; subnet?: number } = {}): TestNetwork {
  const octet = o.subnet ?? 77;
  const N = tag % 250;
  const br = `mbr${octet}x${N}`;
  const hosts: Record<string, { ns: string; ip: string }> = {};
  names.forEach((h, i) => (hosts[h] = { ns: `m${octet}p${tag}${h}`, ip: `10.${octet}.${N}.${i + 2}` }));
  const veth = (i: number, side: 0 | 1) => `v${octet}x${N}h${i}${side}`.slice(0, 15);
  const tearDown = (): void => {
    for (const h of Object.values(hosts)) sh("ip", "netns", "del", h.ns);
    names.forEach((_, i) => sh("ip", "link", "del", veth(i, 0)));
    sh("ip", "link", "del", br);
  };
  const exec = (h: string) => ["ip", "netns", "exec", hosts[h]!.ns];
  const head = `10.${octet}.${N}.1`;
  const setUp = (): void => {
    removeStale(octet); // leftovers of runs that were killed
    tearDown();
    const ok =
      sh("ip", "link", "add", br, "type", "bridge") &&
      sh("ip", "link", "set", "dev", br, "alias", `moe-test-pid-${tag}`) &&
      sh("ip", "addr", "add", `${head}/24`, "dev", br) &&
      sh("ip", "link", "set", br, "up") &&
      names.every((h, i) => {
        const { ns, ip } = hosts[h]!;
        const [outer, inner] = [veth(i, 0), veth(i, 1)];
        return (
          sh("ip", "netns", "add", ns) &&
          sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner) &&
          sh("ip", "link", "set", inner, "netns", ns) &&
          sh("ip", "link", "set", outer, "master", br) &&
          sh("ip", "link", "set", outer, "up") &&
          sh("ip", "netns", "exec", ns, "ip", "addr", "add", `${ip}/24`, "dev", inner) &&
          sh("ip", "netns", "exec", ns, "ip", "link", "set", inner, "up") &&
          sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        );
      });
    if (!ok) {
      tearDown();
      throw new Error(`could not build the test network ${br} (${names.join(", ")}) although a probe namespace and bridge could be made: run \`ip netns list\` / \`ip link\` for leftovers`);
    }
    // a real link speed on each host's side (htb; `tc netem` is not available here): best effort
    if (o.rate && existsSync("/usr/sbin/tc"))
      names.forEach((h, i) => {
        sh("tc", "qdisc", "add", "dev", veth(i, 0), "root", "handle", "1:", "htb", "default", "10");
        sh("tc", "class", "add", "dev", veth(i, 0), "parent", "1:", "classid", "1:10", "htb", "rate", o.rate!);
        sh("ip", "netns", "exec", hosts[h]!.ns, "tc", "qdisc", "add", "dev", veth(i, 1), "root", "handle", "1:", "htb", "default", "10");
        sh("ip", "netns", "exec", hosts[h]!.ns, "tc", "class", "add", "dev", veth(i, 1), "parent", "1:", "classid", "1:10", "htb", "rate", o.rate!);
      });
  };
  return { usable: canMakeNetworks(), head, hosts, exec, setUp, tearDown };
}

let probed: boolean | undefined;

/**
 * Whether this machine lets the tests make namespaces and bridges: Linux, root, `ip`, and a probe namespace
 * and bridge that are removed at once (nothing stays behind, also when only collecting tests).
 * MOE_TEST_NO_NETNS=1 answers false (the tests' loopback fallback on a machine that allows namespaces).
 */
function canMakeNetworks(): boolean {
  if (process.platform !== "linux" || process.getuid?.() !== 0 || !existsSync("/usr/sbin/ip") || process.env.MOE_TEST_NO_NETNS === "1") return false;
  if (probed === undefined) {
    const name = `mprobe${process.pid}`.slice(0, 15);
    const ns = sh("ip", "netns", "add", name);
    if (ns) sh("ip", "netns", "del", name);
    const br = sh("ip", "link", "add", name, "type", "bridge");
    if (br) sh("ip", "link", "del", name);
    probed = ns && br;
  }
  return probed;
}
