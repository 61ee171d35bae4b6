<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * A bad network between clients and a broker: impaired-link.php (run with
 * php -n), a TCP relay that delays, stalls and blackholes what passes through
 * it, changed while connections run. Its header says what it models and how.
 *
 * Connect through it with ['host' => $link->host(), 'port' => $link->port()].
 */
final class ImpairedLink
{
    private const SCRIPT = __DIR__ . '/impaired-link.php';

    private BackgroundProcess $process;
    private string $controlFile;
    private string $outputFile;
    private int $port;
    private int $version = 0;

    private function __construct(private readonly string $host, Broker $broker)
    {
        $this->controlFile = $broker->dir() . '/link-' . bin2hex(random_bytes(5)) . '.json';
        $this->outputFile = $this->controlFile . '.out';
        $this->process = new BackgroundProcess(
            [PHP_BINARY, '-n', self::SCRIPT, $host, $broker->host(), (string) $broker->port(), $this->controlFile],
            $this->outputFile,
            $this->outputFile
        );
        $this->waitForOutput('/^listening (\d+)$/m', 'the impaired link did not start', $match);
        $this->port = (int) $match[1];
    }

    /** A relay listening on $host (an address of this network namespace) and forwarding to $broker. */
    public static function start(string $host, Broker $broker): self
    {
        return new self($host, $broker);
    }

    public function host(): string
    {
        return $this->host;
    }

    public function port(): int
    {
        return $this->port;
    }

    /**
     * Holds each chunk $delay seconds in each direction (a round trip of twice that) and,
     * with probability $stallProbability, $stall seconds longer, with everything behind it:
     * what a lost segment costs a TCP connection.
     */
    public function degrade(float $delay, float $stallProbability = 0.0, float $stall = 0.0): void
    {
        $this->apply(['delay' => $delay, 'stall_probability' => $stallProbability, 'stall' => $stall, 'blackhole_up' => false, 'blackhole_down' => false]);
    }

    /** Nothing passes in the directions given, and neither side hears of it (no RST, no FIN). */
    public function blackhole(bool $up = true, bool $down = true): void
    {
        $this->apply(['blackhole_up' => $up, 'blackhole_down' => $down]);
    }

    /** A good link again: what was held goes on. */
    public function heal(): void
    {
        $this->apply(['delay' => 0.0, 'stall_probability' => 0.0, 'stall' => 0.0, 'blackhole_up' => false, 'blackhole_down' => false]);
    }

    /** Writes the new impairment and returns once the relay applies it. */
    private function apply(array $mode): void
    {
        $mode['version'] = ++$this->version;
        $next = $this->controlFile . '.next';
        file_put_contents($next, json_encode($mode));
        rename($next, $this->controlFile);
        $this->waitForOutput('/^applied ' . $this->version . '$/m', "the impaired link did not apply change {$this->version}");
    }

    private function waitForOutput(string $regex, string $failure, ?array &$match = null): void
    {
        $deadline = microtime(true) + 10.0;
        while (!preg_match($regex, (string) @file_get_contents($this->outputFile), $match)) {
            if (microtime(true) > $deadline || !$this->process->isRunning()) {
                Failure::raise("$failure: " . @file_get_contents($this->outputFile));
            }
            usleep(5_000);
        }
    }

    public function __destruct()
    {
        $this->process->kill();
        @unlink($this->controlFile);
        @unlink($this->outputFile);
    }
}
