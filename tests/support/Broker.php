<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * A real mosquitto on a free 127.0.0.1 port, with its own directory for config,
 * persistence database and log. It can be stopped and started again on the same
 * port with its persistent sessions intact, which is how tests make an outage.
 */
final class Broker
{
    private const MOSQUITTO = '/usr/sbin/mosquitto';
    private const READY_TIMEOUT = 10.0;

    private ?BackgroundProcess $process = null;

    /** @var list<\WeakReference<self>> */
    private static array $started = [];

    /** @param list<string> $extraConfLines */
    private function __construct(
        private readonly int $port,
        private readonly string $dir,
        array $extraConfLines
    ) {
        $this->writeConfig($extraConfLines);
    }

    /** @param list<string> $extraConfLines mosquitto.conf lines added after the defaults */
    public static function start(array $extraConfLines = []): self
    {
        $dir = sys_get_temp_dir() . '/mqtt-broadcast-broker-' . bin2hex(random_bytes(6));
        if (!mkdir($dir, 0700)) {
            throw new \RuntimeException("cannot create $dir");
        }
        $broker = new self(self::freePort(), $dir, $extraConfLines);
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

    /** The mosquitto process's id while it runs. */
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
        $this->process = new BackgroundProcess([self::MOSQUITTO, '-c', $this->dir . '/mosquitto.conf'], $log, $log, null, false, true);
        $deadline = microtime(true) + self::READY_TIMEOUT;
        while (!$this->accepts()) {
            if (!$this->process->isRunning()) {
                Failure::raise("mosquitto exited with code {$this->process->exitCode()} on port {$this->port}:\n" . Failure::tail($this->log()));
            }
            if (microtime(true) >= $deadline) {
                $this->process->kill();
                Failure::raise("mosquitto did not accept connections on port {$this->port} within " . self::READY_TIMEOUT . "s:\n" . Failure::tail($this->log()));
            }
            usleep(20_000);
        }
    }

    /** SIGTERM (mosquitto saves its persistence database), then waits until the process is gone and the port closed. */
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
                Failure::raise("port {$this->port} still accepts connections after mosquitto stopped");
            }
            usleep(20_000);
        }
    }

    public function restart(): void
    {
        $this->stop();
        $this->resume();
    }

    /** Everything mosquitto logged since start(), across restarts. */
    public function log(): string
    {
        return is_file($this->logFile()) ? (string) file_get_contents($this->logFile()) : '';
    }

    /** How many times a client with this id connected, according to the broker's log. */
    public function connectionCount(string $clientId): int
    {
        return count($this->logLinesMatching('/New client connected from \S+ as ' . preg_quote($clientId, '/') . ' \(/'));
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
        $code = $process->exitCode();
        $process->kill();
        unlink($payloadFile);
        // -1: PHP could not collect the exit status (waitpid said ECHILD), which
        // happens now and then under load; whether the message arrived is what
        // the callers check, through an independent subscriber.
        if (!$finished || ($code !== 0 && $code !== -1)) {
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
        return $this->dir . '/mosquitto.log';
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
