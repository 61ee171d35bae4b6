<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * A network namespace of its own (`ip netns`), linked to ours by a veth pair
 * with a /30 of 10.231.0.0/16: a second host on this machine, whose traffic to
 * us crosses a real network interface instead of loopback. Processes run in it
 * through commandPrefix(). Needs root; deleted, with its veth pair, when dropped.
 */
final class NetworkNamespace
{
    private string $name;
    private string $hostAddress;
    private string $address;

    /** Why no namespace can be made here, or null when one can. */
    public static function unavailable(): ?string
    {
        if (posix_geteuid() !== 0) {
            return 'network namespaces (ip netns, veth) need root';
        }
        exec('ip netns list 2>&1', $output, $code);
        if ($code !== 0) {
            return 'ip netns does not work here: ' . implode(' ', $output);
        }
        return null;
    }

    public static function create(): self
    {
        return new self();
    }

    private function __construct()
    {
        $id = bin2hex(random_bytes(4));
        $this->name = "mqtt-broadcast-$id";
        // A /30 at random: concurrent runs are unlikely to pick the same one, and a taken one is skipped.
        do {
            $subnet = random_int(0, 16383) * 4;
            $prefix = sprintf('10.231.%d.', intdiv($subnet, 256));
            $this->hostAddress = $prefix . ($subnet % 256 + 1);
            $this->address = $prefix . ($subnet % 256 + 2);
        } while (str_contains(self::run(['ip', '-4', 'addr', 'show']), " {$this->hostAddress}/"));
        $host = "mbh$id";
        $inside = "mbn$id";
        self::run(['ip', 'netns', 'add', $this->name]);
        self::stopAllAtExit($this);
        self::run(['ip', 'link', 'add', $host, 'type', 'veth', 'peer', 'name', $inside]);
        self::run(['ip', 'link', 'set', $inside, 'netns', $this->name]);
        self::run(['ip', 'addr', 'add', "{$this->hostAddress}/30", 'dev', $host]);
        self::run(['ip', 'link', 'set', $host, 'up']);
        $this->exec(['ip', 'addr', 'add', "{$this->address}/30", 'dev', $inside]);
        $this->exec(['ip', 'link', 'set', $inside, 'up']);
        $this->exec(['ip', 'link', 'set', 'lo', 'up']);
    }

    /** Our end of the link: where processes in the namespace reach us. */
    public function hostAddress(): string
    {
        return $this->hostAddress;
    }

    /** The namespace's end of the link. */
    public function address(): string
    {
        return $this->address;
    }

    /**
     * @return list<string> put before a command to run it in the namespace. nsenter enters
     *   the network namespace only: `ip netns exec` also remounts /sys, which fails in a
     *   chroot whose / is no mount point (the test matrix's root filesystems).
     */
    public function commandPrefix(): array
    {
        return ['nsenter', "--net=/run/netns/{$this->name}", '--'];
    }

    /** Runs a command in the namespace and returns its output; fails when it fails. */
    public function exec(array $command): string
    {
        return self::run([...$this->commandPrefix(), ...$command]);
    }

    public function __destruct()
    {
        // Deleting the namespace deletes the veth end in it, and with it the pair.
        exec('ip netns delete ' . escapeshellarg($this->name) . ' 2>&1');
    }

    /** @param list<string> $command */
    private static function run(array $command): string
    {
        exec(implode(' ', array_map('escapeshellarg', $command)) . ' 2>&1', $output, $code);
        if ($code !== 0) {
            Failure::raise(implode(' ', $command) . " failed ($code): " . implode("\n", $output));
        }
        return implode("\n", $output);
    }

    private static function stopAllAtExit(self $namespace): void
    {
        // Destructors do not run after a fatal error: make sure no namespace outlives us.
        $name = $namespace->name;
        register_shutdown_function(static fn () => exec('ip netns delete ' . escapeshellarg($name) . ' 2>/dev/null'));
    }
}
