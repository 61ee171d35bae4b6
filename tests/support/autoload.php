<?php

declare(strict_types=1);

// Autoloader of the test support classes (namespace MqttBroadcast\Tests\Support => tests/support/).
spl_autoload_register(static function (string $class): void {
    $prefix = 'MqttBroadcast\\Tests\\Support\\';
    if (strncmp($class, $prefix, strlen($prefix)) !== 0) {
        return;
    }
    $file = __DIR__ . '/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
    if (is_file($file)) {
        require $file;
    }
});
