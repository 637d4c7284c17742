//! `summary()`: the table Keras 3 prints, with its column widths and
//! thousands separators.

use super::layers::keras_shape;
use super::sequential::Sequential;

const WIDTHS: [usize; 3] = [33, 24, 15];

fn line(left: char, mid: char, right: char, fill: char) -> String {
    let cols: Vec<String> = WIDTHS.iter().map(|&w| fill.to_string().repeat(w)).collect();
    format!("{left}{}{right}\n", cols.join(&mid.to_string()))
}

fn row(edge: char, cells: [&str; 3]) -> String {
    format!(
        "{edge} {:<w0$} {edge} {:<w1$} {edge} {:>w2$} {edge}\n",
        cells[0],
        cells[1],
        cells[2],
        w0 = WIDTHS[0] - 2,
        w1 = WIDTHS[1] - 2,
        w2 = WIDTHS[2] - 2,
    )
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Keras' size of `params` f32 parameters (`44.10 KB`), exactly as its
/// `readable_memory_size` writes it: the bytes divided by 1024 while the
/// size is at least 1024, units B, KB, MB, GB, TB and PB, two decimals.
/// (Like Keras, a size of 1024 PB or more is divided once more and still
/// called PB: 4096 PB prints as `4.00 PB`.)
pub fn readable_size(params: usize) -> String {
    const UNITS: [&str; 6] = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut size = params as f64 * 4.0;
    for unit in UNITS {
        if size / 1024.0 < 1.0 {
            return format!("{size:.2} {unit}");
        }
        size /= 1024.0;
    }
    format!("{size:.2} PB")
}

pub fn render(model: &Sequential) -> String {
    let mut s = format!("Model: \"{}\"\n", model.name);
    s += &line('┏', '┳', '┓', '━');
    s += &row('┃', ["Layer (type)", "Output Shape", "Param #"]);
    s += &line('┡', '╇', '┩', '━');
    for (i, l) in model.layers().iter().enumerate() {
        if i > 0 {
            s += &line('├', '┼', '┤', '─');
        }
        let count: usize = l
            .params()
            .iter()
            .map(|p| p.shape.iter().product::<usize>())
            .sum();
        s += &row(
            '│',
            [
                &format!("{} ({})", l.name, l.layer.class_name()),
                &keras_shape(&l.output_shape),
                &thousands(count),
            ],
        );
    }
    s += &line('└', '┴', '┘', '─');
    let total = model.count_params();
    s += &format!(
        " Total params: {} ({})\n",
        thousands(total),
        readable_size(total)
    );
    s += &format!(
        " Trainable params: {} ({})\n",
        thousands(total),
        readable_size(total)
    );
    s += " Non-trainable params: 0 (0.00 B)\n";
    s
}
