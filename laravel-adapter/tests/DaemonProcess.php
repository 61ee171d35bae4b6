<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests;

use MqttBroadcast\Tests\Support\BackgroundProcess;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\Failure;
use MqttBroadcast\Tests\Support\PhpScript;

/**
 * `php artisan mqtt-broadcast` of the test application as a real child process,
 * and what its listeners recorded (storage/received.jsonl, see Tests\App\Received).
 */
final class DaemonProcess
{
    /** The test application's listeners, in the order they run (see Tests\App\AppServiceProvider). */
    private const LISTENERS = ['class', 'queued', 'closure'];

    private BackgroundProcess $process;
    private int $probes = 0;
    /** Names this daemon's output files: a test may start several. */
    private string $id;

    /**
     * @param list<string> $arguments
     * @param array<string, string> $env
     */
    private function __construct(string $artisan, array $arguments, array $env, private readonly string $appDir)
    {
        $this->id = bin2hex(random_bytes(3));
        $this->process = new BackgroundProcess(
            array_merge(
                [PHP_BINARY, '-d', 'extension=' . PhpScript::extensionPath(), '-d', 'display_errors=stderr', '-d', 'error_reporting=-1', $artisan, 'mqtt-broadcast'],
                $arguments
            ),
            $this->stdoutFile(),
            $this->stderrFile(),
            array_merge(getenv(), $env)
        );
    }

    /**
     * @param list<string> $arguments
     * @param array<string, string> $env
     */
    public static function start(string $artisan, array $arguments, array $env, string $appDir): self
    {
        return new self($artisan, $arguments, $env, $appDir);
    }

    public function pid(): int
    {
        return $this->process->pid();
    }

    public function output(): string
    {
        return (string) @file_get_contents($this->stdoutFile());
    }

    public function isRunning(): bool
    {
        return $this->process->isRunning();
    }

    public function signal(int $signal): void
    {
        posix_kill($this->process->pid(), $signal);
    }

    /** Waits until stdout matches $regex; fails when the daemon exits first. */
    public function waitForOutput(string $regex, float $timeout = 15.0): void
    {
        $deadline = microtime(true) + $timeout;
        while (!preg_match($regex, $this->output())) {
            if (!$this->process->isRunning()) {
                Failure::raise("mqtt-broadcast exited before printing $regex\n" . $this->describe());
            }
            if (microtime(true) >= $deadline) {
                Failure::raise("mqtt-broadcast did not print $regex within {$timeout}s\n" . $this->describe());
            }
            usleep(20_000);
        }
    }

    /** Waits for the exit and returns the exit code; fails (and kills it) past the timeout. */
    public function waitForExit(float $timeout): int
    {
        if (!$this->process->wait($timeout)) {
            $this->process->kill();
            Failure::raise("mqtt-broadcast did not exit within {$timeout}s\n" . $this->describe());
        }
        return (int) $this->process->exitCode();
    }

    public function kill(): void
    {
        $this->process->kill();
    }

    /**
     * Every listener call recorded so far, in order.
     *
     * @return list<array{listener:string,phase:string,topic:string,message:string,broker:string,qos:int,retain:bool,pid:int,at:float}>
     */
    public function received(): array
    {
        return JsonLines::read("{$this->appDir}/storage/received.jsonl");
    }

    /**
     * Records of one listener ("class", "queued" or "closure") whose topic starts with $topicPrefix.
     *
     * @return list<array<string, mixed>>
     */
    public function receivedBy(string $listener, string $topicPrefix, string $phase = 'handled'): array
    {
        return array_values(array_filter(
            $this->received(),
            static fn (array $r) => $r['listener'] === $listener && $r['phase'] === $phase && str_starts_with($r['topic'], $topicPrefix)
        ));
    }

    /**
     * Waits until every listener of the test application (the class, the
     * queued class and the closure, which run one after the other) handled
     * $count messages below $topicPrefix, and returns the class listener's records.
     *
     * @return list<array<string, mixed>>
     */
    public function waitForMessages(string $topicPrefix, int $count, float $timeout = 15.0): array
    {
        $deadline = microtime(true) + $timeout;
        while (($handled = min(array_map(fn (string $listener) => count($this->receivedBy($listener, $topicPrefix)), self::LISTENERS))) < $count) {
            if (microtime(true) >= $deadline) {
                Failure::raise(sprintf("the listeners handled %d of %d message(s) on %s within %.0fs\n%s", $handled, $count, $topicPrefix, $timeout, $this->describe()));
            }
            if (!$this->process->isRunning()) {
                Failure::raise("mqtt-broadcast exited while waiting for messages on $topicPrefix\n" . $this->describe());
            }
            usleep(20_000);
        }
        return $this->receivedBy('class', $topicPrefix);
    }

    /**
     * Publishes probes with mosquitto_pub to $prefix.$topic until the daemon's
     * listener got one; from then on its subscription is active on the broker.
     */
    public function awaitSubscription(Broker $broker, string $topic, string $prefix = '', float $timeout = 15.0): void
    {
        $deadline = microtime(true) + $timeout;
        while (true) {
            $broker->mosquittoPub($prefix . $topic, 'probe-' . ++$this->probes, 1);
            $retry = microtime(true) + 0.5;
            while (microtime(true) < $retry) {
                if ($this->receivedBy('class', $prefix . $topic) !== []) {
                    return;
                }
                usleep(20_000);
            }
            if (microtime(true) >= $deadline) {
                Failure::raise("the daemon received no probe on $prefix$topic within {$timeout}s\n" . $this->describe());
            }
        }
    }

    public function describe(): string
    {
        return "--- mqtt-broadcast stdout ---\n" . Failure::tail($this->output(), 40)
            . "\n--- stderr ---\n" . Failure::tail((string) @file_get_contents($this->stderrFile()), 40)
            . "\n--- laravel.log ---\n" . Failure::tail((string) @file_get_contents("{$this->appDir}/storage/logs/laravel.log"), 20);
    }

    private function stdoutFile(): string
    {
        return "{$this->appDir}/daemon-{$this->id}.out";
    }

    private function stderrFile(): string
    {
        return "{$this->appDir}/daemon-{$this->id}.err";
    }
}
