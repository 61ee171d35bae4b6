<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * An independent publisher of many messages, in the background: a plain PHP
 * MQTT 3.1.1 client (publish-stream.php, run with php -n, so without the
 * extension) sending each of the given lines as one message, in order, on one
 * topic. Lines must not contain "\n".
 *
 * Not `mosquitto_pub -l`: mosquitto_pub 2.1 exits before it has sent all of its
 * input (README, "Mosquitto versions"), and a test of our subscriber must not
 * depend on the command line client of one Mosquitto version.
 */
final class StreamPublisher
{
    private const SCRIPT = __DIR__ . '/publish-stream.php';

    private BackgroundProcess $process;
    private string $linesFile;
    private string $outputFile;
    private int $count;

    /** @param list<string> $lines */
    private function __construct(private readonly Broker $broker, private readonly string $topic, array $lines, int $qos, int $maxInflight)
    {
        $this->count = count($lines);
        $this->linesFile = $broker->dir() . '/lines-' . bin2hex(random_bytes(5));
        $this->outputFile = $this->linesFile . '.out';
        file_put_contents($this->linesFile, $lines === [] ? '' : implode("\n", $lines) . "\n");
        $this->process = new BackgroundProcess([
            PHP_BINARY, '-n', self::SCRIPT,
            $broker->host(),
            (string) $broker->port(),
            $topic,
            (string) $qos,
            (string) $maxInflight,
            $this->linesFile,
        ], $this->outputFile, $this->outputFile);
    }

    /**
     * @param list<string> $lines
     * @param int $qos 0 or 1
     * @param int $maxInflight QoS 1 messages waiting for their PUBACK at a time
     */
    public static function start(Broker $broker, string $topic, array $lines, int $qos = 1, int $maxInflight = 100): self
    {
        return new self($broker, $topic, $lines, $qos, $maxInflight);
    }

    public function isRunning(): bool
    {
        return $this->process->isRunning();
    }

    /**
     * Waits until the broker took every line (acknowledged each, for QoS 1);
     * fails if the publisher did not say it published them all.
     */
    public function wait(float $timeout = 60.0): void
    {
        $finished = $this->process->wait($timeout);
        $code = $this->process->exitCode();
        $output = (string) @file_get_contents($this->outputFile);
        // The line it prints last is the proof that it published them all.
        if (!$finished || !$this->process->succeeded() || trim($output) !== "published {$this->count}") {
            $this->process->kill();
            Failure::raise(sprintf(
                "publishing %d messages to %s %s (exit %s): %s\nbroker log:\n%s",
                $this->count,
                $this->topic,
                $finished ? 'failed' : "did not finish within {$timeout}s",
                var_export($code, true),
                $output,
                Failure::tail($this->broker->log(), 20)
            ));
        }
    }

    public function __destruct()
    {
        $this->process->kill();
        @unlink($this->linesFile);
        @unlink($this->outputFile);
    }
}
