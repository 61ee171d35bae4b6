<?php

declare(strict_types=1);

// Autoloader of the benchmark classes (namespace MqttBroadcast\Bench => bench/lib/),
// on top of the test support classes (tests/support) they start brokers and processes with.

require dirname(__DIR__, 2) . '/tests/support/autoload.php';

spl_autoload_register(static function (string $class): void {
    $prefix = 'MqttBroadcast\\Bench\\';
    if (strncmp($class, $prefix, strlen($prefix)) !== 0) {
        return;
    }
    $file = __DIR__ . '/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
    if (is_file($file)) {
        require $file;
    }
});
