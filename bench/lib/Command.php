<?php

declare(strict_types=1);

namespace MqttBroadcast\Bench;

use MqttBroadcast\Tests\Support\PhpScript;

/**
 * Child processes of a benchmark. run() waits in proc_close (no polling), so
 * the wall time it measures is the process's own, to the microsecond.
 */
final class Command
{
    /** The PHP that runs the benchmark, with the extension under test loaded (or not). */
    public static function php(string $script, array $args = [], bool $extension = true): array
    {
        $command = [PHP_BINARY];
        if ($extension) {
            array_push($command, '-d', 'extension=' . PhpScript::extensionPath());
        }
        array_push($command, '-d', 'display_errors=stderr', '-d', 'error_reporting=-1', $script);
        return array_merge($command, array_map('strval', $args));
    }

    /**
     * Runs $command to its end; its stdin comes from $stdinFile (or /dev/null).
     *
     * @return array{seconds: float, exit: int, stdout: string, stderr: string}
     */
    public static function run(array $command, ?string $stdinFile = null): array
    {
        $out = tempnam(sys_get_temp_dir(), 'mqtt-broadcast-bench-out-');
        $err = tempnam(sys_get_temp_dir(), 'mqtt-broadcast-bench-err-');
        try {
            $start = hrtime(true);
            $handle = proc_open(
                $command,
                [0 => ['file', $stdinFile ?? '/dev/null', 'r'], 1 => ['file', $out, 'w'], 2 => ['file', $err, 'w']],
                $pipes
            );
            if (!is_resource($handle)) {
                throw new \RuntimeException('cannot start ' . implode(' ', $command));
            }
            $exit = proc_close($handle);
            $seconds = (hrtime(true) - $start) / 1e9;
            return ['seconds' => $seconds, 'exit' => $exit, 'stdout' => (string) file_get_contents($out), 'stderr' => (string) file_get_contents($err)];
        } finally {
            unlink($out);
            unlink($err);
        }
    }

    /** Like run(), but fails unless the command exits with 0 (and, for PHP, prints nothing on stderr). */
    public static function mustRun(array $command, ?string $stdinFile = null): array
    {
        $result = self::run($command, $stdinFile);
        if ($result['exit'] !== 0 || trim($result['stderr']) !== '') {
            throw new \RuntimeException(sprintf(
                "%s failed (exit %d)\n--- stdout ---\n%s\n--- stderr ---\n%s",
                implode(' ', $command),
                $result['exit'],
                substr($result['stdout'], -2000),
                substr($result['stderr'], -2000)
            ));
        }
        return $result;
    }

    /** The JSON object a benchmark script prints as its last line. */
    public static function json(array $result): array
    {
        $lines = preg_split('/\R/', trim($result['stdout']));
        $decoded = json_decode((string) end($lines), true);
        if (!is_array($decoded)) {
            throw new \RuntimeException("no JSON result in the output:\n" . $result['stdout'] . "\n" . $result['stderr']);
        }
        return $decoded;
    }

    /** A PHP benchmark script in the background; stdout and stderr go to files in $dir. */
    public static function background(array $command, string $dir): BackgroundJob
    {
        return new BackgroundJob($command, $dir);
    }
}
