<?php

declare(strict_types=1);

namespace MqttBroadcast\Bench;

use MqttBroadcast\Tests\Support\BackgroundProcess;
use MqttBroadcast\Tests\Support\Broker;

/**
 * The independent subscriber of the benchmarks: mosquitto_sub (the C client)
 * on one topic, `-C count` messages, then it exits.
 *
 * Measuring with it costs it as little as it can: by default it prints
 * nothing (-N -F ''), as mosquitto_sub flushes stdout after every message
 * (a write per message, and %U also stats /etc/localtime twice), and the time
 * it received the last message is when it exited (polled every millisecond).
 * It is subscribed once the broker logged its SUBSCRIBE (BenchBroker logs
 * subscriptions): the broker handles one packet after the other, so a
 * publisher that connects after that finds the subscription in place.
 */
final class MosquittoSub
{
    private BackgroundProcess $process;
    private string $clientId;
    private string $out;
    private string $err;
    private ?float $endedAt = null;

    /** @param ?int $count exit after this many messages; null: until stopped */
    private function __construct(private readonly Broker $broker, private readonly string $topic, ?int $count, ?string $format, int $qos, int $timeout)
    {
        $this->clientId = 'bench-sub-' . bin2hex(random_bytes(5));
        $this->out = $broker->dir() . "/{$this->clientId}.out";
        $this->err = $broker->dir() . "/{$this->clientId}.err";
        $command = [
            'mosquitto_sub', '-h', $broker->host(), '-p', (string) $broker->port(), '-i', $this->clientId,
            '-t', $topic, '-q', (string) $qos, '-W', (string) $timeout,
        ];
        array_push($command, ...($format === null ? ['-N', '-F', ''] : ['-F', $format]));
        if ($count !== null) {
            array_push($command, '-C', (string) $count);
        }
        $this->process = new BackgroundProcess($command, $this->out, $this->err);
    }

    /**
     * Starts and returns once subscribed.
     *
     * @param ?string $format mosquitto_sub -F, a line per message (null: prints nothing)
     */
    public static function start(Broker $broker, string $topic, ?int $count, ?string $format = null, int $qos = 0, int $timeout = 300): self
    {
        $sub = new self($broker, $topic, $count, $format, $qos, $timeout);
        $sub->awaitSubscription();
        return $sub;
    }

    public function pid(): int
    {
        return $this->process->pid();
    }

    /**
     * Waits until it received its count of messages and exited; the time
     * (microtime) it exited, null when it did not within $timeout or failed.
     */
    public function waitForEnd(float $timeout): ?float
    {
        $deadline = microtime(true) + $timeout;
        while ($this->process->isRunning()) {
            if (microtime(true) >= $deadline) {
                return null;
            }
            usleep(1_000);
        }
        $this->endedAt ??= microtime(true);
        return $this->process->exitCode() === 0 ? $this->endedAt : null;
    }

    public function stop(): void
    {
        $this->process->terminate(5.0);
    }

    /** @return list<string> a line per message received so far (when started with a format) */
    public function lines(): array
    {
        clearstatcache(true, $this->out);
        $text = (string) @file_get_contents($this->out);
        $end = strrpos($text, "\n");
        return $end === false ? [] : explode("\n", substr($text, 0, $end));
    }

    public function describe(): string
    {
        return "mosquitto_sub {$this->clientId} on {$this->topic}: exit code " . var_export($this->process->exitCode(), true)
            . ', stderr: ' . trim((string) @file_get_contents($this->err));
    }

    private function awaitSubscription(): void
    {
        // Mosquitto's log_type subscribe: "<time>: <client id> <qos> <filter>"
        $pattern = '/: ' . preg_quote($this->clientId, '/') . ' \d ' . preg_quote($this->topic, '/') . '$/m';
        $subscribed = fn (): bool => $this->broker->isBuiltin()
            ? $this->broker->subscribes($this->clientId) !== []
            : (bool) preg_match($pattern, $this->broker->log());
        $deadline = microtime(true) + 10.0;
        while (!$subscribed()) {
            if (!$this->process->isRunning() || microtime(true) >= $deadline) {
                throw new \RuntimeException('not subscribed within 10 s: ' . $this->describe());
            }
            usleep(2_000);
        }
    }

    public function __destruct()
    {
        $this->process->kill();
        @unlink($this->out);
        @unlink($this->err);
    }
}
