<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests\Support;

/**
 * Runs PHP code in a child `php` process with the extension under test loaded,
 * in its own process group, killed (with anything it forked) if it outlives the timeout.
 */
final class PhpScript
{
    /** Path of the extension under test: $MQTT_BROADCAST_EXT, else the release build. */
    public static function extensionPath(): string
    {
        $path = getenv('MQTT_BROADCAST_EXT');
        return $path !== false && $path !== '' ? $path : dirname(__DIR__, 2) . '/target/release/libmqtt_broadcast.so';
    }

    /**
     * @param string $code PHP source; an opening "<?php" tag is added when missing
     * @param array<string,string> $env added to our environment
     */
    public static function run(string $code, array $env = [], float $timeout = 30.0): PhpResult
    {
        if (!str_starts_with(ltrim($code), '<?php')) {
            $code = "<?php\n" . $code;
        }
        $file = tempnam(sys_get_temp_dir(), 'mqtt-broadcast-script-');
        file_put_contents($file, $code);
        try {
            return self::runFile($file, [], $env, $timeout);
        } finally {
            unlink($file);
        }
    }

    /**
     * @param list<string> $args
     * @param array<string,string> $env added to our environment
     */
    public static function runFile(string $file, array $args = [], array $env = [], float $timeout = 30.0): PhpResult
    {
        $stdout = tempnam(sys_get_temp_dir(), 'mqtt-broadcast-out-');
        $stderr = tempnam(sys_get_temp_dir(), 'mqtt-broadcast-err-');
        $command = array_merge(
            [PHP_BINARY, '-d', 'extension=' . self::extensionPath(), '-d', 'display_errors=stderr', '-d', 'error_reporting=-1', $file],
            $args
        );
        try {
            $process = new BackgroundProcess($command, $stdout, $stderr, array_merge(getenv(), $env), true);
            $finished = $process->wait($timeout);
            $process->killGroup();
            $result = new PhpResult(
                $finished ? (int) $process->exitCode() : null,
                (string) file_get_contents($stdout),
                (string) file_get_contents($stderr)
            );
            if (!$finished) {
                Failure::raise("PHP script $file did not finish within {$timeout}s and was killed.\n" . $result->describe());
            }
            return $result;
        } finally {
            unlink($stdout);
            unlink($stderr);
        }
    }
}
