<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * A child `php` process with the extension under test, running in the
 * background (unlike PhpScript, which waits for the end): the test reads what
 * it printed so far, signals it, kills it. Own process group; stdout and
 * stderr go to files. Killed, with whatever it forked, when dropped.
 */
final class PhpChild
{
    private BackgroundProcess $process;
    private string $file;
    private string $stdoutFile;
    private string $stderrFile;

    private function __construct(string $code, array $env, array $commandPrefix)
    {
        if (!str_starts_with(ltrim($code), '<?php')) {
            $code = "<?php\n" . $code;
        }
        $this->file = tempnam(sys_get_temp_dir(), 'mqtt-broadcast-child-');
        $this->stdoutFile = tempnam(sys_get_temp_dir(), 'mqtt-broadcast-child-out-');
        $this->stderrFile = tempnam(sys_get_temp_dir(), 'mqtt-broadcast-child-err-');
        file_put_contents($this->file, $code);
        $this->process = new BackgroundProcess(
            [...$commandPrefix, PHP_BINARY, '-d', 'extension=' . PhpScript::extensionPath(), '-d', 'display_errors=stderr', '-d', 'error_reporting=-1', $this->file],
            $this->stdoutFile,
            $this->stderrFile,
            array_merge(getenv(), $env),
            true
        );
    }

    /**
     * @param string $code PHP source; an opening "<?php" tag is added when missing
     * @param array<string,string> $env added to our environment
     * @param list<string> $commandPrefix a command that runs php, e.g. NetworkNamespace::commandPrefix()
     */
    public static function start(string $code, array $env = [], array $commandPrefix = []): self
    {
        return new self($code, $env, $commandPrefix);
    }

    public function pid(): int
    {
        return $this->process->pid();
    }

    public function stdout(): string
    {
        clearstatcache(true, $this->stdoutFile);
        return (string) @file_get_contents($this->stdoutFile);
    }

    public function stderr(): string
    {
        clearstatcache(true, $this->stderrFile);
        return (string) @file_get_contents($this->stderrFile);
    }

    /** @return list<string> the complete lines printed so far */
    public function lines(): array
    {
        $out = $this->stdout();
        $end = strrpos($out, "\n");
        return $end === false ? [] : explode("\n", substr($out, 0, $end));
    }

    /**
     * Waits until $condition (given the complete lines printed so far) holds.
     * Fails when $timeout passes first, or when the process ends without it holding.
     *
     * @param callable(list<string>):bool $condition
     */
    public function waitUntil(callable $condition, float $timeout, string $what): void
    {
        $deadline = microtime(true) + $timeout;
        while (!$condition($this->lines())) {
            if (!$this->process->isRunning()) {
                if ($condition($this->lines())) {
                    return;
                }
                Failure::raise("child PHP ended before: $what\n" . $this->describe());
            }
            if (microtime(true) >= $deadline) {
                Failure::raise("child PHP did not reach within {$timeout}s: $what\n" . $this->describe());
            }
            usleep(10_000);
        }
    }

    /** Waits until the process printed the line $line. */
    public function waitForLine(string $line, float $timeout = 20.0): void
    {
        $this->waitUntil(static fn (array $lines) => in_array($line, $lines, true), $timeout, "a line \"$line\"");
    }

    /** Sends $signal to the php process itself (not its group). */
    public function signal(int $signal): void
    {
        posix_kill($this->process->pid(), $signal);
    }

    /** Waits up to $timeout seconds for the process to end; true if it did. */
    public function wait(float $timeout): bool
    {
        return $this->process->wait($timeout);
    }

    /** Exit code once ended (128 + signal number when killed by a signal), null while running. */
    public function exitCode(): ?int
    {
        return $this->process->exitCode();
    }

    public function isRunning(): bool
    {
        return $this->process->isRunning();
    }

    /** SIGKILL, to the process and anything it forked; returns once it is gone. */
    public function kill(): void
    {
        $this->process->killGroup();
    }

    /** For assertion messages. */
    public function describe(): string
    {
        return sprintf(
            "pid %d, %s\n--- stdout (tail) ---\n%s\n--- stderr (tail) ---\n%s",
            $this->process->pid(),
            $this->process->isRunning() ? 'running' : 'exit code ' . var_export($this->process->exitCode(), true),
            Failure::tail($this->stdout(), 20),
            Failure::tail($this->stderr(), 20)
        );
    }

    public function __destruct()
    {
        $this->process->killGroup();
        @unlink($this->file);
        @unlink($this->stdoutFile);
        @unlink($this->stderrFile);
    }
}
