<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * mosquitto_sub in the background: a subscriber that shares no code with the
 * extension. Subclasses choose its options and output format and parse it;
 * this keeps the process, the messages and the probes.
 *
 * Besides the filter, it subscribes to a probe topic of its own: the
 * constructor returns once a probe published with mosquitto_pub comes back
 * (the subscription is active), and sync() does the same later as a barrier
 * (everything the broker accepted before has been delivered, as mosquitto
 * delivers a session's messages in order).
 */
abstract class MosquittoSubscriber
{
    protected const PROBE_PREFIX = 'mqtt-broadcast-probe/';
    private const START_TIMEOUT = 10.0;

    private BackgroundProcess $process;
    private string $output;
    private string $errors;
    private string $probeTopic;
    private int $probes = 0;
    /** @var list<mixed> messages parsed so far (probes excluded), as the subclass shapes them */
    private array $messages = [];
    /** @var list<string> probe payloads seen so far */
    private array $probesSeen = [];
    private int $parsedBytes = 0;

    /** @param list<string> $options mosquitto_sub options besides broker, client id, keep-alive and topics */
    protected function __construct(
        protected readonly Broker $broker,
        protected readonly string $filter,
        private readonly string $clientId,
        array $options
    ) {
        $this->output = $broker->dir() . "/{$clientId}.out";
        $this->errors = $broker->dir() . "/{$clientId}.err";
        $this->probeTopic = self::PROBE_PREFIX . $clientId;
        $this->process = new BackgroundProcess([
            'mosquitto_sub',
            '-h', $broker->host(),
            '-p', (string) $broker->port(),
            '-i', $clientId,
            '-k', '5',
            '-t', $filter,
            '-t', $this->probeTopic,
            ...$options,
        ], $this->output, $this->errors);
        $this->awaitSubscription();
    }

    /** Parses the complete messages at the start of $chunk, calling received() for each; returns the bytes it used. */
    abstract protected function parse(string $chunk): int;

    public function clientId(): string
    {
        return $this->clientId;
    }

    /** @return list<mixed> every message received so far, probes excluded, in arrival order */
    public function messages(): array
    {
        $this->read();
        return $this->messages;
    }

    /**
     * Waits until at least $count messages arrived and returns all of them.
     *
     * @return list<mixed>
     */
    public function waitFor(int $count, float $timeout = 20.0): array
    {
        $deadline = microtime(true) + $timeout;
        while (count($this->messages()) < $count) {
            if (microtime(true) >= $deadline) {
                Failure::raise(sprintf(
                    'mosquitto_sub on "%s" expected at least %d message(s) within %.1fs, %d arrived%s',
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
                Failure::raise("mosquitto_sub on \"{$this->filter}\" did not get its probe back within {$timeout}s" . $this->describeTail());
            }
            $this->assertAlive();
            usleep(20_000);
        }
    }

    public function stop(): void
    {
        $this->process->terminate();
        $this->read();
    }

    /** One parsed message: kept, or noted as a probe. */
    protected function received(string $topic, string $payload, mixed $message): void
    {
        if (str_starts_with($topic, self::PROBE_PREFIX)) {
            $this->probesSeen[] = $payload;
        } else {
            $this->messages[] = $message;
        }
    }

    protected function describeTail(): string
    {
        return "\nmosquitto_sub stderr: " . Failure::tail((string) @file_get_contents($this->errors), 10)
            . "\nbroker log:\n" . Failure::tail($this->broker->log(), 20);
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
        $this->read();
        return in_array($probe, $this->probesSeen, true);
    }

    /** Parses what was written since the last call. */
    private function read(): void
    {
        clearstatcache(true, $this->output);
        $size = @filesize($this->output);
        if ($size === false || $size <= $this->parsedBytes) {
            return;
        }
        $chunk = (string) file_get_contents($this->output, false, null, $this->parsedBytes, $size - $this->parsedBytes);
        $this->parsedBytes += $this->parse($chunk);
    }

    private function assertAlive(): void
    {
        if (!$this->process->isRunning()) {
            Failure::raise("mosquitto_sub exited with code {$this->process->exitCode()}" . $this->describeTail());
        }
    }

    public function __destruct()
    {
        $this->process->kill();
    }
}
