<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use MqttBroadcast\Tests\Support\BackgroundProcess;
use MqttBroadcast\Tests\Support\Failure;
use MqttBroadcast\Tests\Support\PhpScript;

/** `php artisan queue:work mqtt` of the test application as a real child process. */
final class QueueWorkerProcess
{
    private BackgroundProcess $process;

    /**
     * @param list<string> $arguments after `queue:work mqtt`
     * @param array<string, string> $env
     */
    public function __construct(string $artisan, array $arguments, array $env, private readonly string $outputFile)
    {
        $this->process = new BackgroundProcess(
            array_merge(
                [PHP_BINARY, '-d', 'extension=' . PhpScript::extensionPath(), '-d', 'display_errors=stderr', '-d', 'error_reporting=-1', $artisan, 'queue:work', 'mqtt'],
                $arguments
            ),
            $outputFile,
            $outputFile,
            array_merge(getenv(), $env)
        );
    }

    public function pid(): int
    {
        return $this->process->pid();
    }

    public function isRunning(): bool
    {
        return $this->process->isRunning();
    }

    public function kill(): void
    {
        $this->process->kill();
    }

    /** SIGSTOP: the worker is held still, its connections left as they are. */
    public function pause(): void
    {
        posix_kill($this->process->pid(), SIGSTOP);
    }

    /** SIGCONT: the worker goes on from where pause() held it. */
    public function resume(): void
    {
        posix_kill($this->process->pid(), SIGCONT);
    }

    /** SIGTERM: `queue:work` finishes its job and exits. */
    public function stop(float $timeout = 20.0): void
    {
        posix_kill($this->process->pid(), SIGTERM);
        if (!$this->process->wait($timeout)) {
            $this->process->kill();
            Failure::raise("queue:work did not stop within {$timeout}s after SIGTERM\n" . $this->output());
        }
    }

    public function output(): string
    {
        return Failure::tail((string) @file_get_contents($this->outputFile), 30);
    }
}
