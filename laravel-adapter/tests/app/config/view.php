<?php

return [
    'paths' => [resource_path('views')],
    // Compiled Blade templates (Laravel's own error pages among them) go to the test's directory.
    'compiled' => storage_path('framework/views'),
];
