<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/** What a PhpScript run left behind. */
final class PhpResult
{
    public function __construct(
        /** null when the script was killed for running too long */
        public readonly ?int $exitCode,
        public readonly string $stdout,
        public readonly string $stderr
    ) {
    }

    /** For assertion messages. */
    public function describe(): string
    {
        return sprintf(
            "exit code: %s\n--- stdout ---\n%s\n--- stderr ---\n%s",
            var_export($this->exitCode, true),
            Failure::tail($this->stdout, 40),
            Failure::tail($this->stderr, 40)
        );
    }
}
