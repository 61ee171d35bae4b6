<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * Raises a test failure: a PHPUnit assertion failure inside the test suite, a
 * RuntimeException when the support code runs on its own (./build.sh example).
 */
final class Failure
{
    /** @return never */
    public static function raise(string $message): void
    {
        if (class_exists(\PHPUnit\Framework\AssertionFailedError::class)) {
            throw new \PHPUnit\Framework\AssertionFailedError($message);
        }
        throw new \RuntimeException($message);
    }

    /** The last $lines lines of $text, for failure messages. */
    public static function tail(string $text, int $lines = 30): string
    {
        $all = explode("\n", rtrim($text, "\n"));
        return implode("\n", array_slice($all, -$lines));
    }
}
