//! The banner vigie puts above every screenshot it keeps: the address, the
//! date and time in Paris and UTC, the probe's title and the vantage point,
//! so that the picture alone says what, where and when. The banner is
//! rendered by the same browser as its own small page and stacked above the
//! page's screenshot (the page itself is never modified).

use crate::probe::text::escape_html;

/// What the banner says.
pub struct BannerFacts<'a> {
    pub url: &'a str,
    pub paris: String,
    pub utc: String,
    pub title: &'a str,
    pub location: &'a str,
    pub step: &'a str,
}

/// The banner as a standalone HTML page, `width` pixels wide.
pub fn html(f: &BannerFacts, width: u32) -> String {
    format!(
        r#"<!doctype html><html lang="fr"><head><meta charset="utf-8"><style>
html,body{{margin:0;padding:0;background:#1d2b4f;width:{width}px}}
div{{font:15px/1.45 "DejaVu Sans",Arial,sans-serif;color:#fff;padding:10px 14px;border-bottom:4px solid #e1000f}}
b{{font-size:16px}} .u{{font-family:"DejaVu Sans Mono",monospace;word-break:break-all;background:#fff;color:#000;padding:1px 4px}}
small{{color:#cfd8ee}}</style></head><body><div>
<b>Capture vigie</b> — {title} <small>(étape « {step} »)</small><br>
Adresse : <span class="u">{url}</span><br>
Le {paris} (heure de Paris) · {utc} UTC · Point d'observation : {location}<br>
<small>Bandeau ajouté par vigie au-dessus de la page telle qu'affichée par le navigateur ; la page n'a pas été modifiée.</small>
</div></body></html>"#,
        title = escape_html(f.title),
        step = escape_html(f.step),
        url = escape_html(f.url),
        paris = escape_html(&f.paris),
        utc = escape_html(&f.utc),
        location = escape_html(f.location),
    )
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("PNG decoding: {0}")]
    Decode(#[from] png::DecodingError),
    #[error("PNG encoding: {0}")]
    Encode(#[from] png::EncodingError),
    #[error("image too large")]
    TooLarge,
}

struct Rgba {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

fn decode(png_bytes: &[u8]) -> Result<Rgba, ComposeError> {
    let mut d = png::Decoder::new(std::io::Cursor::new(png_bytes));
    d.set_transformations(png::Transformations::normalize_to_color8() | png::Transformations::ALPHA);
    let mut r = d.read_info()?;
    let mut buf = vec![0; r.output_buffer_size()];
    let info = r.next_frame(&mut buf)?;
    buf.truncate(info.buffer_size());
    let pixels = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::GrayscaleAlpha => buf.chunks(2).flat_map(|c| [c[0], c[0], c[0], c[1]]).collect(),
        png::ColorType::Rgb => buf.chunks(3).flat_map(|c| [c[0], c[1], c[2], 255]).collect(),
        png::ColorType::Grayscale => buf.iter().flat_map(|g| [*g, *g, *g, 255]).collect(),
        png::ColorType::Indexed => return Err(ComposeError::TooLarge),
    };
    Ok(Rgba {
        width: info.width,
        height: info.height,
        pixels,
    })
}

/// `top` stacked above `bottom`, on white where widths differ.
pub fn stack(top: &[u8], bottom: &[u8]) -> Result<Vec<u8>, ComposeError> {
    let (a, b) = (decode(top)?, decode(bottom)?);
    let width = a.width.max(b.width);
    let height = a.height.checked_add(b.height).ok_or(ComposeError::TooLarge)?;
    if u64::from(width) * u64::from(height) > 200_000_000 {
        return Err(ComposeError::TooLarge);
    }
    let row = width as usize * 4;
    let mut out = vec![255u8; row * height as usize];
    for (img, y0) in [(&a, 0usize), (&b, a.height as usize)] {
        let w = img.width as usize * 4;
        for y in 0..img.height as usize {
            let src = &img.pixels[y * w..(y + 1) * w];
            let dst = (y0 + y) * row;
            out[dst..dst + w].copy_from_slice(src);
        }
    }
    let mut bytes = Vec::new();
    {
        let mut e = png::Encoder::new(&mut bytes, width, height);
        e.set_color(png::ColorType::Rgba);
        e.set_depth(png::BitDepth::Eight);
        e.set_compression(png::Compression::Fast);
        let mut w = e.write_header()?;
        w.write_image_data(&out)?;
    }
    Ok(bytes)
}

/// Width and height of a PNG, read from its header.
pub fn dimensions(png_bytes: &[u8]) -> Option<(u32, u32)> {
    let d = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let r = d.read_info().ok()?;
    let i = r.info();
    Some((i.width, i.height))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solid(w: u32, h: u32, rgb: [u8; 3]) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut e = png::Encoder::new(&mut bytes, w, h);
        e.set_color(png::ColorType::Rgb);
        let mut wr = e.write_header().expect("header");
        let data: Vec<u8> = (0..w * h).flat_map(|_| rgb).collect();
        wr.write_image_data(&data).expect("data");
        drop(wr);
        bytes
    }

    #[test]
    fn stacks_banner_above_page_padding_narrower_with_white() {
        let top = solid(4, 2, [255, 0, 0]);
        let bottom = solid(6, 3, [0, 0, 255]);
        let out = stack(&top, &bottom).expect("stack");
        assert_eq!(dimensions(&out), Some((6, 5)));
        let img = decode(&out).expect("decode");
        let px = |x: usize, y: usize| img.pixels[(y * 6 + x) * 4..(y * 6 + x) * 4 + 4].to_vec();
        assert_eq!(px(0, 0), vec![255, 0, 0, 255]);
        assert_eq!(px(5, 0), vec![255, 255, 255, 255], "padding is white");
        assert_eq!(px(5, 4), vec![0, 0, 255, 255]);
    }

    #[test]
    fn banner_escapes_what_the_page_controls() {
        let f = BannerFacts {
            url: "http://x/<script>",
            paris: "1er décembre 2026 à 10:00:00".into(),
            utc: "2026-12-01 09:00:00".into(),
            title: "ANEF & co",
            location: "paris",
            step: "accueil",
        };
        let h = html(&f, 1280);
        assert!(h.contains("http://x/&lt;script&gt;") && h.contains("ANEF &amp; co"));
    }
}
