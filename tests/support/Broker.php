<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * A real mosquitto on a free 127.0.0.1 port, with its own directory for config,
 * persistence database and log. It can be stopped and started again on the same
 * port with its persistent sessions intact, which is how tests make an outage.
 *
 * With MQTT_BROADCAST_TEST_BROKER=builtin it is the built-in broker instead
 * (Mqtt\Broker run() by a child PHP process, see BuiltinBroker), with the same
 * life: a free port, SIGTERM to stop, the same persistence directory again.
 * What tests read from the log they ask through the methods below, which know
 * the wording of both.
 */
final class Broker
{
    private const MOSQUITTO = '/usr/sbin/mosquitto';
    private const READY_TIMEOUT = 10.0;

    private ?BackgroundProcess $process = null;
    /** @var list<string> the command that runs the broker */
    private array $command;

    /** @var list<\WeakReference<self>> */
    private static array $started = [];

    /** @param list<string> $extraConfLines */
    private function __construct(
        private readonly int $port,
        private readonly string $dir,
        array $extraConfLines,
        private readonly bool $builtin
    ) {
        if ($builtin) {
            $this->command = BuiltinBroker::command($dir, BuiltinBroker::options($port, $dir, $extraConfLines));
        } else {
            $this->writeConfig($extraConfLines);
            $this->command = [self::MOSQUITTO, '-c', $this->dir . '/mosquitto.conf'];
        }
    }

    /**
     * @param list<string> $extraConfLines mosquitto.conf lines added after the defaults (the
     *   built-in broker takes those it has an equivalent of, and skips the test for any other)
     * @param bool|null $builtin the built-in broker rather than Mosquitto (null: as MQTT_BROADCAST_TEST_BROKER says)
     */
    public static function start(array $extraConfLines = [], ?bool $builtin = null): self
    {
        $dir = sys_get_temp_dir() . '/mqtt-broadcast-broker-' . bin2hex(random_bytes(6));
        if (!mkdir($dir, 0700)) {
            throw new \RuntimeException("cannot create $dir");
        }
        $broker = new self(self::freePort(), $dir, $extraConfLines, $builtin ?? BuiltinBroker::requested());
        self::stopAllAtExit($broker);
        $broker->resume();
        return $broker;
    }

    /** Whether something accepts connections on this loopback port. */
    public static function portAccepts(int $port): bool
    {
        $socket = @stream_socket_client("tcp://127.0.0.1:$port", $errno, $errstr, 0.5);
        if ($socket === false) {
            return false;
        }
        fclose($socket);
        return true;
    }

    /** A loopback TCP port nothing listens on right now. */
    public static function freePort(): int
    {
        $socket = socket_create(AF_INET, SOCK_STREAM, SOL_TCP);
        if ($socket === false || !socket_bind($socket, '127.0.0.1', 0) || !socket_getsockname($socket, $addr, $port)) {
            throw new \RuntimeException('cannot find a free port: ' . socket_strerror(socket_last_error()));
        }
        socket_close($socket);
        return $port;
    }

    public function host(): string
    {
        return '127.0.0.1';
    }

    public function port(): int
    {
        return $this->port;
    }

    public function isRunning(): bool
    {
        return $this->process !== null && $this->process->isRunning();
    }

    /** Whether this is the built-in broker (MQTT_BROADCAST_TEST_BROKER=builtin), not Mosquitto. */
    public function isBuiltin(): bool
    {
        return $this->builtin;
    }

    /** Skips the running test on the built-in broker: $fact is Mosquitto's only. */
    public function requireMosquitto(string $fact): void
    {
        if ($this->builtin) {
            BuiltinBroker::skip($fact);
        }
    }

    /** The broker process's id while it runs. */
    public function pid(): ?int
    {
        return $this->isRunning() ? $this->process->pid() : null;
    }

    /** Starts mosquitto (again, after stop()) on the same port, with the same config and persistence. */
    public function resume(): void
    {
        if ($this->isRunning()) {
            throw new \LogicException('broker is already running');
        }
        $log = $this->logFile();
        $this->process = new BackgroundProcess($this->command, $log, $log, null, false, true);
        $name = $this->builtin ? 'the built-in broker' : 'mosquitto';
        $deadline = microtime(true) + self::READY_TIMEOUT;
        while (!$this->accepts()) {
            if (!$this->process->isRunning()) {
                Failure::raise("$name exited with code {$this->process->exitCode()} on port {$this->port}:\n" . Failure::tail($this->log()));
            }
            if (microtime(true) >= $deadline) {
                $this->process->kill();
                Failure::raise("$name did not accept connections on port {$this->port} within " . self::READY_TIMEOUT . "s:\n" . Failure::tail($this->log()));
            }
            usleep(20_000);
        }
    }

    /** SIGTERM (the broker saves its persistence), then waits until the process is gone and the port closed. */
    public function stop(): void
    {
        if ($this->process === null) {
            return;
        }
        $this->process->terminate();
        $this->process = null;
        $deadline = microtime(true) + 5.0;
        while ($this->accepts()) {
            if (microtime(true) >= $deadline) {
                Failure::raise("port {$this->port} still accepts connections after the broker stopped");
            }
            usleep(20_000);
        }
    }

    public function restart(): void
    {
        $this->stop();
        $this->resume();
    }

    /** Everything the broker logged since start(), across restarts. */
    public function log(): string
    {
        return is_file($this->logFile()) ? (string) file_get_contents($this->logFile()) : '';
    }

    /** How many times a client with this id connected, according to the broker's log. */
    public function connectionCount(string $clientId): int
    {
        return count($this->connections($clientId));
    }

    /** @return list<string> the log lines of each connection the broker accepted from $clientId */
    public function connections(string $clientId): array
    {
        return $this->linesAbout($clientId, '/New client connected from \S+ as %s \(/', '/ connected %s from /');
    }

    /** @return list<string> the log lines of each connection of $clientId that asked to keep its session (Mosquitto: c0) */
    public function persistentSessionConnections(string $clientId): array
    {
        return $this->linesAbout($clientId, '/New client connected from \S+ as %s \(p\d, c0,/', '/ connected %s from \S+ \([^,]+, persistent session/');
    }

    /** Whether the first CONNECT of $clientId carried a will. */
    public function connectedWithWill(string $clientId): bool
    {
        if ($this->builtin) {
            return str_contains($this->connections($clientId)[0] ?? '', ', will on ');
        }
        // Mosquitto says so on the line after the connection's.
        $lines = explode("\n", $this->log());
        $first = preg_grep(sprintf('/New client connected from \S+ as %s \(/', preg_quote($clientId, '/')), $lines);
        return $first !== [] && str_contains($lines[array_key_first($first) + 1] ?? '', 'Will message specified');
    }

    /** @return list<string> the log lines of each SUBSCRIBE $clientId sent (the built-in broker: each filter it subscribed) */
    public function subscribes(string $clientId): array
    {
        return $this->linesAbout($clientId, '/Received SUBSCRIBE from %s$/', '/ subscribed %s to /');
    }

    /** @return list<string> each filter $clientId subscribed to, as "filter (QoS n)" */
    public function subscriptions(string $clientId): array
    {
        if ($this->builtin) {
            return array_map(
                static fn (string $line) => preg_replace('/^.* to (.*) at QoS (\d)$/', '$1 (QoS $2)', $line),
                $this->subscribes($clientId)
            );
        }
        // Mosquitto logs each filter of a SUBSCRIBE on a line of its own, after the packet's.
        $subscriptions = [];
        $inSubscribe = false;
        foreach (explode("\n", $this->log()) as $line) {
            if (preg_match('/Received SUBSCRIBE from ' . preg_quote($clientId, '/') . '$/', $line)) {
                $inSubscribe = true;
            } elseif ($inSubscribe && preg_match('/^\d+: \t(.*)$/', $line, $match)) {
                $subscriptions[] = $match[1];
            } else {
                $inSubscribe = false;
            }
        }
        return $subscriptions;
    }

    /** @return list<string> the log lines of each UNSUBSCRIBE $clientId sent (the built-in broker: each filter) */
    public function unsubscribes(string $clientId): array
    {
        return $this->linesAbout($clientId, '/Received UNSUBSCRIBE from %s$/', '/ unsubscribed %s from /');
    }

    /**
     * @return list<string> the log lines of each DISCONNECT packet $clientId sent (Mosquitto: the
     *   packet, not the closing line after it, which mosquitto 2.1 words differently)
     */
    public function disconnects(string $clientId): array
    {
        return $this->linesAbout($clientId, '/Received DISCONNECT from %s$/', '/ disconnected %s: it sent DISCONNECT$/');
    }

    /**
     * @return list<string> the log lines of each connection of $clientId that ended, however it ended
     *   (Mosquitto 2.0: "Client ID disconnected." or "Client ID closed its connection."; 2.1 adds
     *   the address: "Client ID [127.0.0.1:PORT] disconnected[: connection closed by client].")
     */
    public function connectionEnds(string $clientId): array
    {
        return $this->linesAbout($clientId, '/Client %s (\[\S+\] )?(disconnected|closed its connection)/', '/ disconnected %s: /');
    }

    /**
     * @return list<string> the log lines of each connection of $clientId the broker closed for its silence
     *   (Mosquitto 2.0: "Client ID has exceeded timeout, disconnecting."; 2.1: "Client ID [ADDRESS] disconnected: exceeded timeout.")
     */
    public function keepAliveTimeouts(string $clientId): array
    {
        return $this->linesAbout($clientId, '/Client %s (\[\S+\] disconnected: )?(has )?exceeded timeout/', '/ disconnected %s: keep alive timeout$/');
    }

    /**
     * @return list<string> the log lines of each connection refused for its credentials (CONNACK 4, 5,
     *   134 or 135). Mosquitto: the CONNACK it logs sending, the one line all versions word alike
     *   (how it names the client, 2.0.11: address and <unknown>, 2.0.21: the client id, and the
     *   disconnect that follows, 2.1: "disconnected: not authorised", changed).
     */
    public function refusedForCredentials(): array
    {
        return $this->logLinesMatching($this->builtin
            ? '/ refused \S+ from \S+: CONNACK (4|5|134|135) /'
            : '/Sending CONNACK to \S+ \(\d, (4|5|134|135)\)/');
    }

    /** @return list<string> log lines matching the regex */
    public function logLinesMatching(string $regex): array
    {
        return array_values(preg_grep($regex, explode("\n", $this->log())) ?: []);
    }

    /** Publishes with the mosquitto_pub command line client (independent of the extension). */
    public function mosquittoPub(string $topic, string $payload, int $qos = 1, bool $retain = false): void
    {
        $payloadFile = $this->dir . '/pub-' . bin2hex(random_bytes(4));
        file_put_contents($payloadFile, $payload);
        $command = ['mosquitto_pub', '-h', $this->host(), '-p', (string) $this->port, '-q', (string) $qos, '-t', $topic, '-f', $payloadFile];
        if ($retain) {
            $command[] = '-r';
        }
        $out = $this->dir . '/pub.out';
        $process = new BackgroundProcess($command, $out, $out);
        $finished = $process->wait(10.0);
        $succeeded = $process->succeeded();
        $code = $process->exitCode();
        $process->kill();
        unlink($payloadFile);
        // Whether the message arrived is what the callers check, through an independent subscriber.
        if (!$finished || !$succeeded) {
            Failure::raise("mosquitto_pub to $topic failed (exit " . var_export($code, true) . '): ' . file_get_contents($out));
        }
    }

    public function dir(): string
    {
        return $this->dir;
    }

    public function __destruct()
    {
        $this->process?->kill();
        $this->process = null;
        TempDir::remove($this->dir);
    }

    private function accepts(): bool
    {
        return self::portAccepts($this->port);
    }

    private function logFile(): string
    {
        return $this->builtin ? BuiltinBroker::logFile($this->dir) : $this->dir . '/mosquitto.log';
    }

    /** @return list<string> log lines about $clientId: $mosquitto or $builtin, "%s" standing for the quoted client id */
    private function linesAbout(string $clientId, string $mosquitto, string $builtin): array
    {
        return $this->logLinesMatching(sprintf($this->builtin ? $builtin : $mosquitto, preg_quote($clientId, '/')));
    }

    /** @param list<string> $extraConfLines */
    private function writeConfig(array $extraConfLines): void
    {
        $lines = [
            "listener {$this->port} 127.0.0.1",
            'allow_anonymous true',
            'persistence true',
            "persistence_location {$this->dir}/",
            // stderr, redirected to mosquitto.log: mosquitto buffers 'log_dest file'
            // and tests read the log while it runs.
            'log_dest stderr',
            'log_type all',
            // A test broker never drops queued QoS 1/2 messages for a slow or offline subscriber.
            'max_queued_messages 0',
            // Stay the user we are (mosquitto started as root would switch to 'mosquitto'
            // and lose access to this directory); ignored when not root.
            'user ' . (posix_getpwuid(posix_geteuid())['name'] ?? 'root'),
        ];
        file_put_contents($this->dir . '/mosquitto.conf', implode("\n", array_merge($lines, $extraConfLines)) . "\n");
    }

    private static function stopAllAtExit(self $broker): void
    {
        if (self::$started === []) {
            // Destructors do not run after a fatal error: make sure no mosquitto outlives us.
            register_shutdown_function(static function (): void {
                foreach (self::$started as $ref) {
                    $ref->get()?->process?->kill();
                }
            });
        }
        self::$started[] = \WeakReference::create($broker);
    }
}
