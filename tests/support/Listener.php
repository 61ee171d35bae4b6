<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * An independent subscriber: mosquitto_sub in the background with a fixed client
 * id and a persistent session (-c), so that together with mosquitto's persistence
 * it keeps receiving across broker restarts.
 *
 * Each message is printed as "<topic> <payload as hex>" (mosquitto_sub -F '%t %x'),
 * which keeps payloads byte-exact, binary and empty ones included; the payload is
 * split off at the last space, since hex has none.
 *
 * Besides the filter, it subscribes to a probe topic of its own: start() waits until
 * a probe published with mosquitto_pub comes back (the subscription is active), and
 * sync() does the same later as a barrier (everything the broker accepted before
 * has been delivered, as mosquitto delivers a session's messages in order).
 */
final class Listener
{
    private const PROBE_PREFIX = 'mqtt-broadcast-probe/';
    private const START_TIMEOUT = 10.0;

    private BackgroundProcess $process;
    private string $output;
    private string $errors;
    private string $probeTopic;
    private int $probes = 0;

    /** @var list<array{0:string,1:string}> messages parsed so far (probes excluded) */
    private array $messages = [];
    /** @var list<string> probe payloads seen so far */
    private array $probesSeen = [];
    private int $parsedBytes = 0;

    private function __construct(
        private readonly Broker $broker,
        private readonly string $filter,
        private readonly int $qos,
        private readonly string $clientId
    ) {
        $this->output = $broker->dir() . "/listener-{$clientId}.out";
        $this->errors = $broker->dir() . "/listener-{$clientId}.err";
        $this->probeTopic = self::PROBE_PREFIX . $clientId;
        $this->process = new BackgroundProcess([
            'mosquitto_sub',
            '-h', $broker->host(),
            '-p', (string) $broker->port(),
            '-i', $clientId,
            '-c',
            '-q', (string) $qos,
            '-k', '5',
            '-t', $filter,
            '-t', $this->probeTopic,
            '-F', '%t %x',
        ], $this->output, $this->errors);
    }

    public static function start(Broker $broker, string $filter = '#', int $qos = 1): self
    {
        $listener = new self($broker, $filter, $qos, 'listener-' . bin2hex(random_bytes(5)));
        $listener->awaitSubscription();
        return $listener;
    }

    public function clientId(): string
    {
        return $this->clientId;
    }

    /** @return list<array{0:string,1:string}> [topic, payload] of every message received so far, probes excluded */
    public function messages(): array
    {
        $this->parse();
        return $this->messages;
    }

    /** @return list<string> payloads of messages(), in arrival order */
    public function payloads(): array
    {
        return array_column($this->messages(), 1);
    }

    /**
     * Waits until at least $count messages arrived and returns all of them.
     *
     * @return list<array{0:string,1:string}>
     */
    public function waitFor(int $count, float $timeout = 20.0): array
    {
        $deadline = microtime(true) + $timeout;
        while (count($this->messages()) < $count) {
            if (microtime(true) >= $deadline) {
                Failure::raise(sprintf(
                    'Listener on "%s" expected at least %d message(s) within %.1fs, %d arrived%s',
                    $this->filter,
                    $count,
                    $timeout,
                    count($this->messages),
                    $this->describeTail()
                ));
            }
            $this->assertAlive();
            usleep(20_000);
        }
        return $this->messages;
    }

    /**
     * Barrier: publishes a probe and waits for it, so every message the broker
     * accepted for this subscriber before the call has arrived when it returns.
     */
    public function sync(float $timeout = 20.0): void
    {
        $probe = $this->publishProbe();
        $deadline = microtime(true) + $timeout;
        while (!$this->hasSeenProbe($probe)) {
            if (microtime(true) >= $deadline) {
                Failure::raise("Listener on \"{$this->filter}\" did not get its probe back within {$timeout}s" . $this->describeTail());
            }
            $this->assertAlive();
            usleep(20_000);
        }
    }

    public function stop(): void
    {
        $this->process->terminate();
        $this->parse();
    }

    private function awaitSubscription(): void
    {
        // A probe published before the SUBACK is simply not delivered: publish
        // again until one comes back.
        $deadline = microtime(true) + self::START_TIMEOUT;
        while (true) {
            $probe = $this->publishProbe();
            $retry = microtime(true) + 0.5;
            while (microtime(true) < $retry) {
                if ($this->hasSeenProbe($probe) || $this->probesSeen !== []) {
                    return;
                }
                $this->assertAlive();
                usleep(10_000);
            }
            if (microtime(true) >= $deadline) {
                $this->process->kill();
                Failure::raise("mosquitto_sub on \"{$this->filter}\" was not subscribed within " . self::START_TIMEOUT . 's' . $this->describeTail());
            }
        }
    }

    private function publishProbe(): string
    {
        $probe = 'probe-' . ++$this->probes;
        $this->broker->mosquittoPub($this->probeTopic, $probe, 1);
        return $probe;
    }

    private function hasSeenProbe(string $probe): bool
    {
        $this->parse();
        return in_array($probe, $this->probesSeen, true);
    }

    /** Parses the complete lines written since the last call. */
    private function parse(): void
    {
        clearstatcache(true, $this->output);
        $size = @filesize($this->output);
        if ($size === false || $size <= $this->parsedBytes) {
            return;
        }
        $chunk = (string) file_get_contents($this->output, false, null, $this->parsedBytes, $size - $this->parsedBytes);
        $end = strrpos($chunk, "\n");
        if ($end === false) {
            return;
        }
        $this->parsedBytes += $end + 1;
        foreach (explode("\n", substr($chunk, 0, $end)) as $line) {
            $split = strrpos($line, ' ');
            $payload = $split === false ? false : hex2bin(substr($line, $split + 1));
            if ($payload === false) {
                Failure::raise("unparsable mosquitto_sub output line: " . var_export($line, true));
            }
            $topic = substr($line, 0, $split);
            if (str_starts_with($topic, self::PROBE_PREFIX)) {
                $this->probesSeen[] = $payload;
            } else {
                $this->messages[] = [$topic, $payload];
            }
        }
    }

    private function assertAlive(): void
    {
        if (!$this->process->isRunning()) {
            Failure::raise("mosquitto_sub exited with code {$this->process->exitCode()}" . $this->describeTail());
        }
    }

    private function describeTail(): string
    {
        return "\nmosquitto_sub stderr: " . Failure::tail((string) @file_get_contents($this->errors), 10)
            . "\nbroker log:\n" . Failure::tail($this->broker->log(), 20);
    }

    public function __destruct()
    {
        $this->process->kill();
    }
}
