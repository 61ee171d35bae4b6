<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * A real RabbitMQ cluster on loopback: Debian's rabbitmq-server nodes with the
 * rabbitmq_mqtt plugin, each with its own node name (rabbit1@localhost, ...),
 * its own AMQP, MQTT and distribution ports and its own data and log
 * directories, sharing an Erlang cookie and an epmd of their own (on a free
 * port, so nothing of the machine's is used or left behind). The nodes boot in
 * parallel and join each other through RabbitMQ's classic peer discovery; a
 * node's MQTT port accepts once it booted and joined, and the cluster is ready
 * once the MQTT plugin's client ID tracker (a Raft cluster: every CONNECT is
 * registered through its leader) has every node as a member. SIGKILLed and
 * removed when dropped.
 */
final class RabbitCluster
{
    private const SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
    private const CTL = '/usr/lib/rabbitmq/bin/rabbitmqctl';
    private const EPMD = '/usr/bin/epmd';
    // Three nodes booting at once on two cores take about 30 s.
    private const READY_TIMEOUT = 80.0;
    /** Clusters booted at most before start() gives up (see there). */
    private const BOOTS = 3;

    private string $dir;
    private ?BackgroundProcess $epmd = null;
    private int $epmdPort = 0;
    /** @var array<int, BackgroundProcess> node number => its process, while it runs */
    private array $processes = [];
    /** @var array<int, int> node number => MQTT port */
    private array $mqttPorts = [];

    /** @var list<\WeakReference<self>> */
    private static array $started = [];

    /** Why no cluster can run on this machine, or null when it can. */
    public static function unavailable(): ?string
    {
        if (!is_executable(self::SERVER) || !is_executable(self::EPMD)) {
            return 'RabbitMQ is not installed (Debian package rabbitmq-server; ./build.sh deps installs it)';
        }
        return null;
    }

    /**
     * Starts $count nodes in parallel and returns once every one accepts MQTT connections as a member of the cluster.
     *
     * RabbitMQ 3.10 may refuse a node's join to the client ID tracker while its
     * leader's first term is young ("cluster_change_not_permitted") and never
     * tries again: the tracker then stays short of a node for good. Such a
     * cluster is stopped and a fresh one booted, at most BOOTS times in all.
     */
    public static function start(int $count = 3): self
    {
        for ($boot = 1; ; $boot++) {
            $cluster = new self();
            self::stopAllAtExit($cluster);
            if ($cluster->boot($count, $boot === self::BOOTS)) {
                return $cluster;
            }
            fwrite(STDERR, "\nRabbitCluster: the client ID tracker left a node out (boot $boot of " . self::BOOTS . "); booting a fresh cluster\n");
            $cluster->__destruct();
        }
    }

    private function __construct()
    {
        $this->dir = sys_get_temp_dir() . '/mqtt-broadcast-rabbit-' . bin2hex(random_bytes(6));
        if (!mkdir($this->dir, 0700)) {
            throw new \RuntimeException("cannot create {$this->dir}");
        }
    }

    /** @return list<int> the node numbers, from 1 */
    public function nodes(): array
    {
        return array_keys($this->mqttPorts);
    }

    public function mqttPort(int $node): int
    {
        return $this->mqttPorts[$node];
    }

    /** "127.0.0.1:port" of a node's MQTT listener, as the servers option takes it. */
    public function server(int $node): string
    {
        return '127.0.0.1:' . $this->mqttPorts[$node];
    }

    /** The node whose MQTT listener is "127.0.0.1:port". */
    public function nodeOf(string $server): int
    {
        foreach ($this->nodes() as $node) {
            if ($this->server($node) === $server) {
                return $node;
            }
        }
        throw new \LogicException("$server is no node of this cluster");
    }

    /** SIGKILL to a node: its connections break at once, as when its machine's RabbitMQ crashes. */
    public function kill(int $node): void
    {
        // The node runs under a shell script that forwards signals: SIGKILL reaches the Erlang VM through its group.
        $this->processes[$node]->killGroup();
        unset($this->processes[$node]);
    }

    /** What a node logged, for failure messages. */
    public function log(int $node): string
    {
        return (string) @file_get_contents($this->nodeDir($node) . '/out.log');
    }

    public function __destruct()
    {
        foreach ($this->processes as $process) {
            $process->killGroup();
        }
        $this->processes = [];
        $this->epmd?->kill();
        $this->epmd = null;
        TempDir::remove($this->dir);
    }

    /** False when the client ID tracker did not take in every node (see start()), unless $last: then that fails. */
    private function boot(int $count, bool $last): bool
    {
        // The cookie the nodes authenticate each other with is read from $HOME.
        file_put_contents($this->dir . '/.erlang.cookie', bin2hex(random_bytes(16)));
        chmod($this->dir . '/.erlang.cookie', 0400);
        $this->epmdPort = Broker::freePort();
        $this->epmd = new BackgroundProcess([self::EPMD, '-port', (string) $this->epmdPort], $this->dir . '/epmd.log', $this->dir . '/epmd.log');
        $this->waitUntil(fn () => Broker::portAccepts($this->epmdPort), 10.0, 'epmd');

        $names = [];
        for ($node = 1; $node <= $count; $node++) {
            $names[$node] = "rabbit$node@localhost";
            $this->mqttPorts[$node] = Broker::freePort();
        }
        foreach ($names as $node => $name) {
            $dir = $this->nodeDir($node);
            mkdir($dir, 0700);
            $this->writeConfig($node, $names);
            // In its own directory: Erlang writes crash dumps (MnesiaCore.*) where it runs.
            $this->processes[$node] = new BackgroundProcess(['env', '-C', $dir, self::SERVER], "$dir/out.log", "$dir/out.log", array_merge(getenv(), [
                'HOME' => $this->dir,
                'ERL_EPMD_PORT' => (string) $this->epmdPort,
                'RABBITMQ_NODENAME' => $name,
                'RABBITMQ_DIST_PORT' => (string) Broker::freePort(),
                'RABBITMQ_CONFIG_FILE' => "$dir/rabbitmq.conf",
                'RABBITMQ_ADVANCED_CONFIG_FILE' => "$dir/advanced.config",
                'RABBITMQ_CONF_ENV_FILE' => "$dir/rabbitmq-env.conf",
                'RABBITMQ_ENABLED_PLUGINS_FILE' => "$dir/enabled_plugins",
                'RABBITMQ_PLUGINS_EXPAND_DIR' => "$dir/plugins",
                'RABBITMQ_MNESIA_BASE' => "$dir/mnesia",
                'RABBITMQ_LOG_BASE' => "$dir/log",
                'RABBITMQ_PID_FILE' => "$dir/pid",
                // Schedulers that busy-wait take the CPU the other nodes need to boot; and a node
                // never starts an epmd of its own, which would outlive the cluster.
                'RABBITMQ_SCHEDULER_BUSY_WAIT_THRESHOLD' => 'none',
                'RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS' => '+sbwtdcpu none +sbwtdio none -start_epmd false',
            ]), true);
        }
        foreach ($this->nodes() as $node) {
            $this->waitUntil(fn () => Broker::portAccepts($this->mqttPorts[$node]), self::READY_TIMEOUT, "node $node's MQTT listener");
        }
        $standalone = array_filter($this->nodes(), fn (int $node) => str_contains($this->log($node), 'Starting as a blank standalone node'));
        if (count($standalone) > 1) {
            Failure::raise('the nodes did not form one cluster: ' . implode(', ', $standalone) . " each started alone\n" . $this->describe());
        }
        // Until then a CONNECT may be refused ("broker unavailable"), and
        // killing a node may leave the others without a quorum to register
        // the clients that fail over to them.
        return $this->waitUntil(fn () => $this->trackerFormed(), self::READY_TIMEOUT, "the MQTT client ID tracker on all $count nodes", raise: $last);
    }

    /** Whether every node's client ID tracker has every node as a member, and all agree on its leader. */
    private function trackerFormed(): bool
    {
        $leaders = [];
        foreach ($this->nodes() as $node) {
            $said = $this->tracker($node);
            if ($said === null || $said['members'] !== count($this->nodes())) {
                return false;
            }
            $leaders[$said['leader']] = true;
        }
        return count($leaders) === 1;
    }

    /** @return array{members: int, leader: string}|null what a node's client ID tracker says, null when it cannot say */
    private function tracker(int $node): ?array
    {
        $expression = 'case ra:members({mqtt_node, node()}) of '
            . '{ok, Members, {_, Leader}} -> io:format("~b ~s~n", [length(Members), Leader]); '
            . '_ -> io:format("none~n") end.';
        $process = proc_open(
            ['timeout', '20', self::CTL, '-n', "rabbit$node@localhost", 'eval', $expression],
            [1 => ['pipe', 'w'], 2 => ['file', '/dev/null', 'w']],
            $pipes,
            null,
            array_merge(getenv(), ['HOME' => $this->dir, 'ERL_EPMD_PORT' => (string) $this->epmdPort])
        );
        if ($process === false) {
            return null;
        }
        $output = (string) stream_get_contents($pipes[1]);
        fclose($pipes[1]);
        proc_close($process);
        if (!preg_match('/^(\d+) (\S+)$/m', $output, $m)) {
            return null;
        }
        return ['members' => (int) $m[1], 'leader' => $m[2]];
    }

    /** @param array<int, string> $names node number => node name */
    private function writeConfig(int $node, array $names): void
    {
        $dir = $this->nodeDir($node);
        $lines = [
            'listeners.tcp.1 = 127.0.0.1:' . Broker::freePort(),
            'mqtt.listeners.tcp.1 = 127.0.0.1:' . $this->mqttPorts[$node],
            'mqtt.allow_anonymous = true',
            'loopback_users = none',
            'log.console = true',
            'log.console.level = info',
            'log.file = false',
            'cluster_formation.peer_discovery_backend = classic_config',
        ];
        foreach (array_values($names) as $i => $name) {
            $lines[] = 'cluster_formation.classic_config.nodes.' . ($i + 1) . " = $name";
        }
        file_put_contents("$dir/rabbitmq.conf", implode("\n", $lines) . "\n");
        file_put_contents("$dir/enabled_plugins", "[rabbitmq_mqtt].\n");
        file_put_contents("$dir/advanced.config", "[].\n");
        file_put_contents("$dir/rabbitmq-env.conf", '');
    }

    private function nodeDir(int $node): string
    {
        return "{$this->dir}/rabbit$node";
    }

    /** True once $condition holds; at the timeout a failure, or false when not $raise. */
    private function waitUntil(callable $condition, float $timeout, string $what, bool $raise = true): bool
    {
        $deadline = microtime(true) + $timeout;
        while (!$condition()) {
            foreach ($this->processes as $node => $process) {
                if (!$process->isRunning()) {
                    Failure::raise("RabbitMQ node $node exited with code {$process->exitCode()} while waiting for $what\n" . $this->describe());
                }
            }
            if (microtime(true) >= $deadline) {
                if (!$raise) {
                    return false;
                }
                Failure::raise("$what did not come up within {$timeout}s\n" . $this->describe());
            }
            usleep(100_000);
        }
        return true;
    }

    /** The tail of each node's log, for failure messages. */
    public function describe(): string
    {
        $text = '';
        foreach ($this->nodes() as $node) {
            $text .= "--- node $node (tail) ---\n" . Failure::tail($this->log($node), 15) . "\n";
        }
        return $text;
    }

    private static function stopAllAtExit(self $cluster): void
    {
        if (self::$started === []) {
            // Destructors do not run after a fatal error: make sure no node outlives us.
            register_shutdown_function(static function (): void {
                foreach (self::$started as $ref) {
                    $ref->get()?->__destruct();
                }
            });
        }
        self::$started[] = \WeakReference::create($cluster);
    }
}
