<?php

declare(strict_types=1);

namespace MqttBroadcast\Bench;

use MqttBroadcast\Tests\Support\BackgroundProcess;

/** A child process whose output a benchmark reads while it runs. */
final class BackgroundJob
{
    private BackgroundProcess $process;
    private string $out;
    private string $err;

    public function __construct(private readonly array $command, string $dir)
    {
        $name = $dir . '/job-' . bin2hex(random_bytes(5));
        $this->out = "$name.out";
        $this->err = "$name.err";
        // Not in a group of its own: pid() is the process itself, for SIGSTOP / SIGCONT.
        $this->process = new BackgroundProcess($command, $this->out, $this->err);
    }

    public function pid(): int
    {
        return $this->process->pid();
    }

    public function stdout(): string
    {
        clearstatcache(true, $this->out);
        return (string) @file_get_contents($this->out);
    }

    /** Waits until the process printed the line $line. */
    public function waitForLine(string $line, float $timeout = 20.0): void
    {
        $deadline = microtime(true) + $timeout;
        while (!in_array($line, explode("\n", $this->stdout()), true)) {
            if (!$this->process->isRunning() || microtime(true) >= $deadline) {
                throw new \RuntimeException("no line \"$line\" from " . implode(' ', $this->command) . "\n" . $this->describe());
            }
            usleep(5_000);
        }
    }

    public function signal(int $signal): void
    {
        posix_kill($this->process->pid(), $signal);
    }

    /** Waits for the end; the JSON object it printed last. */
    public function result(float $timeout): array
    {
        if (!$this->process->wait($timeout) || $this->process->exitCode() !== 0) {
            $this->process->kill();
            throw new \RuntimeException(implode(' ', $this->command) . " did not end well within {$timeout}s\n" . $this->describe());
        }
        return Command::json(['stdout' => $this->stdout(), 'stderr' => (string) @file_get_contents($this->err)]);
    }

    private function describe(): string
    {
        return 'exit code: ' . var_export($this->process->exitCode(), true)
            . "\n--- stdout ---\n" . substr($this->stdout(), -2000)
            . "\n--- stderr ---\n" . substr((string) @file_get_contents($this->err), -2000);
    }

    public function __destruct()
    {
        $this->process->kill();
        @unlink($this->out);
        @unlink($this->err);
    }
}
