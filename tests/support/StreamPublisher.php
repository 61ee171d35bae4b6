<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * An independent publisher of many messages: `mosquitto_pub -l` in the
 * background, sending each line of a file as one message, in order, on one
 * topic. Lines must not contain "\n".
 */
final class LinePublisher
{
    private BackgroundProcess $process;
    private string $linesFile;
    private string $outputFile;

    /** @param list<string> $lines */
    private function __construct(private readonly Broker $broker, private readonly string $topic, array $lines, int $qos, int $maxInflight)
    {
        $this->linesFile = $broker->dir() . '/lines-' . bin2hex(random_bytes(5));
        $this->outputFile = $this->linesFile . '.out';
        file_put_contents($this->linesFile, $lines === [] ? '' : implode("\n", $lines) . "\n");
        $this->process = new BackgroundProcess([
            'sh', '-c', 'exec mosquitto_pub "$@" < "$0"', $this->linesFile,
            '-h', $broker->host(),
            '-p', (string) $broker->port(),
            '-q', (string) $qos,
            '-M', (string) $maxInflight,
            '-t', $topic,
            '-l',
        ], $this->outputFile, $this->outputFile);
    }

    /** @param list<string> $lines */
    public static function start(Broker $broker, string $topic, array $lines, int $qos = 1, int $maxInflight = 100): self
    {
        return new self($broker, $topic, $lines, $qos, $maxInflight);
    }

    public function isRunning(): bool
    {
        return $this->process->isRunning();
    }

    /** Waits until every line was published (and acknowledged, for QoS 1/2); fails if mosquitto_pub did not succeed. */
    public function wait(float $timeout = 60.0): void
    {
        $finished = $this->process->wait($timeout);
        $code = $this->process->exitCode();
        if (!$finished || $code !== 0) {
            $this->process->kill();
            Failure::raise(sprintf(
                "mosquitto_pub -l to %s %s (exit %s): %s\nbroker log:\n%s",
                $this->topic,
                $finished ? 'failed' : "did not finish within {$timeout}s",
                var_export($code, true),
                (string) @file_get_contents($this->outputFile),
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
